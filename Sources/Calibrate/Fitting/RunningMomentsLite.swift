/// Mean and standard deviation of a handful of readings.
struct RunningMomentsLite {
    private var values: [Double] = []
    mutating func add(_ v: Double) { values.append(v) }
    var mean: Double { values.reduce(0, +) / Double(max(1, values.count)) }
    var standardDeviation: Double {
        guard values.count > 1 else { return 0 }
        let m = mean
        return (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
    }
}
