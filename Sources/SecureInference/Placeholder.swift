public enum Protocol {}
