#!/usr/bin/env bash
# Regenerates the committed Swift code of the session protocol from its .proto files.
# No build needs this: the generated files are committed. Run it only after editing a .proto.
#
# Needs: protoc (Debian: apt-get install protobuf-compiler) and the two Swift plugins, built once in a
# scratch directory OUTSIDE the repository (default /tmp/qbench-protogen, or $PROTOGEN_DIR) at the
# versions Package.swift resolves (swift-protobuf 1.39.0, grpc-swift-protobuf 2.4.1):
#   git clone --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf.git $PROTOGEN_DIR/grpc-swift-protobuf
#   cd $PROTOGEN_DIR/grpc-swift-protobuf
#   swift build --product protoc-gen-grpc-swift-2   # grpc plugin (pulls swift-protobuf 1.39.0)
#   swift build --product protoc-gen-swift          # swift-protobuf's plugin, from the same checkout
# This script does those steps itself when the plugins are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
protogen=${PROTOGEN_DIR:-/tmp/qbench-protogen}
case "$protogen" in "$repo"*) echo "PROTOGEN_DIR must be outside the repository" >&2; exit 1 ;; esac

command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
bin="$protogen/grpc-swift-protobuf/.build/debug"
if [ ! -x "$bin/protoc-gen-swift" ] || [ ! -x "$bin/protoc-gen-grpc-swift-2" ]; then
  mkdir -p "$protogen"
  [ -d "$protogen/grpc-swift-protobuf" ] || git clone --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf.git "$protogen/grpc-swift-protobuf"
  (cd "$protogen/grpc-swift-protobuf" && swift build --product protoc-gen-grpc-swift-2 && swift build --product protoc-gen-swift)
fi

messages=Sources/SessionProtocol/Proto
service=Sources/SessionTransport/Proto
# Messages: public types in SessionProtocol.
protoc --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_opt=Visibility=Public --swift_out=Sources/SessionProtocol/Generated \
  -I "$messages" "$messages/session.proto"
# Service: in SessionTransport, its message types imported from SessionProtocol.
mapping=$(mktemp)
trap 'rm -f "$mapping"' EXIT
printf 'mapping {\n  module_name: "SessionProtocol"\n  proto_file_path: "session.proto"\n}\n' > "$mapping"
protoc --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift-2_opt=Visibility=Internal,Client=true,Server=true,ProtoPathModuleMappings="$mapping" \
  --grpc-swift-2_out=Sources/SessionTransport/Generated \
  -I "$messages" -I "$service" "$service/session_service.proto"
echo "generated: Sources/SessionProtocol/Generated/session.pb.swift Sources/SessionTransport/Generated/session_service.grpc.swift"
