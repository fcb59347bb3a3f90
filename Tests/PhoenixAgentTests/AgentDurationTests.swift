import PhoenixAgent
import Testing

@Suite("Agent durations")
struct AgentDurationTests {
    @Test("90s, 5m, 1h, 1d and plain seconds read as seconds; anything else is not a duration")
    func parse() {
        #expect(AgentDuration.seconds("90s") == 90)
        #expect(AgentDuration.seconds("5m") == 300)
        #expect(AgentDuration.seconds("1h") == 3600)
        #expect(AgentDuration.seconds("1d") == 86_400)
        #expect(AgentDuration.seconds("45") == 45)
        #expect(AgentDuration.seconds("1.5m") == 90)
        for bad in ["", "m", "5x", "-5s", "0", "0s", "five", "5 m"] { #expect(AgentDuration.seconds(bad) == nil, "\(bad)") }
        #expect(AgentDuration.text(300) == "5m")
        #expect(AgentDuration.text(90) == "90s")
        #expect(AgentDuration.text(7200) == "2h")
    }
}
