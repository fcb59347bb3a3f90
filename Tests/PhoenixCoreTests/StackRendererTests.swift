import Testing
import Yams

@testable import PhoenixCore

@Suite("Rendering stacks")
struct StackRendererTests {
    static let compose = """
        # comment
        services:
          web:
            image: "example/web:${TAG:-latest}"
            environment:
              SECRET: ${SECRET}
              PLAIN: $SECRET
              LITERAL: "$$HOME"
              MISSING: ${NOT_SET}
            deploy:
              replicas: ${REPLICAS}
              labels:
                traefik.enable: "false"
                keep: me
        """

    func environment(_ variables: [(String, String)], labels: [String] = []) -> StackEnvironment {
        let location = SourceLocation(file: "s.json", pointer: .root)
        return StackEnvironment(
            name: "production",
            variables: variables.map { StackVariable(name: $0.0, value: $0.1, location: location) },
            services: [
                StackService(
                    name: "web",
                    labels: labels.map {
                        let parts = $0.split(separator: "=", maxSplits: 1).map(String.init)
                        return TraefikLabel(key: parts[0], value: parts[1], hosts: [], location: location)
                    })
            ],
            location: location)
    }

    func render(_ environment: StackEnvironment) throws -> (Node, [String]) {
        let rendered = try StackRenderer.render(compose: Self.compose, environment: environment).get()
        return (try #require(try Yams.compose(yaml: rendered.text)), rendered.unresolved)
    }

    @Test(
        "values with shell and sed metacharacters arrive intact",
        arguments: [#"a|b"#, #"x&y"#, #"back\slash"#, #"quote"d"#, #"single'q"#, "dollar$sign", "new\nline", "colon: yes", "#hash"])
    func hostileValues(value: String) throws {
        let (document, _) = try render(environment([("SECRET", value), ("REPLICAS", "3")]))
        let env = document["services"]?["web"]?["environment"]
        let docker = value.replacingOccurrences(of: "$", with: "$$")  // docker stack deploy turns $$ back into $
        #expect(env?["SECRET"]?.string == docker)
        #expect(env?["PLAIN"]?.string == docker)
        #expect(document["services"]?["web"]?["deploy"]?["replicas"]?.int == 3)
    }

    @Test("defaults apply, $$ stays escaped, unknown names are left for docker and reported")
    func defaultsAndEscapes() throws {
        let (document, unresolved) = try render(environment([("SECRET", "s"), ("REPLICAS", "1")]))
        #expect(document["services"]?["web"]?["image"]?.string == "example/web:latest")
        #expect(document["services"]?["web"]?["environment"]?["LITERAL"]?.string == "$$HOME")
        #expect(document["services"]?["web"]?["environment"]?["MISSING"]?.string == "${NOT_SET}")
        #expect(unresolved == ["NOT_SET"])
    }

    @Test("Traefik labels merge into deploy.labels, configuration winning, the rest kept")
    func labels() throws {
        let (document, _) = try render(environment([("REPLICAS", "1")], labels: ["traefik.enable=true", "traefik.http.routers.web.rule=Host(`w.lab.test`)"]))
        let labels = document["services"]?["web"]?["deploy"]?["labels"]
        #expect(labels?["traefik.enable"]?.string == "true")
        #expect(labels?["traefik.http.routers.web.rule"]?.string == "Host(`w.lab.test`)")
        #expect(labels?["keep"]?.string == "me")
    }

    @Test("a file with nothing to change keeps its bytes, comments included")
    func untouched() throws {
        let text = "# keep me\nservices:\n  a: {image: x}\n"
        #expect(try StackRenderer.render(compose: text, environment: nil).get().text == text)
    }
}
