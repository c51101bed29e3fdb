import BenchIO
import Testing

/// L0: SCPI response data (IEEE 488.2 §8.7), error queue entries (SCPI 1999 Vol. 2 §21.8)
/// and *IDN? (IEEE 488.2 §10.14).
@Suite("SCPI response parsing")
struct SCPIResponseTests {
    @Test("NR1, NR2 and NR3 numbers",
          arguments: [("42", 42.0), ("+42", 42), ("-7", -7), ("1.5", 1.5), ("1.234500E-03\n", 1.2345e-3),
                      (" +2.5e+2 ", 250), ("-9.9E37", -.infinity), ("9.9E37", .infinity)])
    func numbers(text: String, value: Double) {
        #expect(SCPIResponse.number(text) == value)
    }

    @Test("9.91E37 is NaN; junk is nil")
    func specialAndJunk() {
        #expect(SCPIResponse.number("9.91E37")?.isNaN == true)
        for junk in ["", "ON", "1.2.3", "0x10", "1,2", "nan", "inf"] { #expect(SCPIResponse.number(junk) == nil) }
    }

    @Test("integers, booleans and lists")
    func integersBooleansLists() {
        #expect(SCPIResponse.integer("+16") == 16)
        #expect(SCPIResponse.integer("1.000E+01") == 10)
        #expect(SCPIResponse.integer("1.5") == nil)
        #expect(SCPIResponse.boolean("ON") == true && SCPIResponse.boolean("0\n") == false && SCPIResponse.boolean("2") == nil)
        #expect(SCPIResponse.numbers("0,1,1.2E3,-4") == [0, 1, 1200, -4])
        #expect(SCPIResponse.numbers("1,,2") == nil)
        #expect(SCPIResponse.strippingTerminator(Array("1\r\n".utf8)) == Array("1".utf8))
    }

    @Test("error queue entries",
          arguments: [
            ("-113,\"Undefined header\"", SCPIErrorEntry(code: -113, message: "Undefined header")),
            ("+0,\"No error\"\n", SCPIErrorEntry(code: 0, message: "No error")),
            ("0, No Error", SCPIErrorEntry(code: 0, message: "No Error")),
            ("-222,\"Data out of range;SENS:CORR:WAV 5000\"", SCPIErrorEntry(code: -222, message: "Data out of range;SENS:CORR:WAV 5000")),
            ("-100,\"say \"\"hi\"\"\"", SCPIErrorEntry(code: -100, message: "say \"hi\"")),
            ("201,\"Laser interlock open\"", SCPIErrorEntry(code: 201, message: "Laser interlock open")),
          ])
    func errorEntries(text: String, entry: SCPIErrorEntry) {
        #expect(SCPIErrorEntry(response: text) == entry)
    }

    @Test("error classes", arguments: [(-102, SCPIErrorEntry.Category.command), (-222, .execution), (-350, .deviceSpecific),
                                       (-410, .query), (-800, .event), (5, .instrumentSpecific), (0, .none)])
    func categories(code: Int, category: SCPIErrorEntry.Category) {
        #expect(SCPIErrorEntry(code: code, message: "").category == category)
    }

    @Test("*IDN? replies")
    func identity() {
        let idn = SCPIIdentity(response: "Thorlabs,PM100USB,P2000001,1.7.0\n")
        #expect(idn == SCPIIdentity(manufacturer: "Thorlabs", model: "PM100USB", serialNumber: "P2000001", firmware: "1.7.0"))
        let keysight = SCPIIdentity(response: "Keysight Technologies,33522B,MY57000001,5.02-1.19-2.00-52-00")
        #expect(keysight?.model == "33522B")
        let commas = SCPIIdentity(response: "RIGOL TECHNOLOGIES,DS1104Z,DS1ZA000,00.04.04.SP3,extra")
        #expect(commas?.firmware == "00.04.04.SP3,extra")
        #expect(SCPIIdentity(response: "Thorlabs,PM100USB") == nil)
        #expect(SCPIIdentity(response: ",,,") == nil)
        #expect(idn?.description == "Thorlabs,PM100USB,P2000001,1.7.0")
    }
}
