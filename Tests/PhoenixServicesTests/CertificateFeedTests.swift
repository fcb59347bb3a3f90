import Foundation
import PhoenixCore
import PhoenixServices
import Testing

/// The certificate-fed secret values one run shares between its kinds (certs writes, swarm reads).
@Suite("The certificate feed")
struct CertificateFeedTests {
    @Test("values set from many tasks at once are all there; the last value set for a name wins")
    func concurrentSets() async {
        let feed = CertificateFeed()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask { feed.set("app_\(index % 100)", Secret("pem \(index % 100)")) }
                group.addTask { _ = feed.values() }
            }
        }
        let values = feed.values()
        #expect(values.count == 100)
        #expect(values["app_7"] == Secret("pem 7"))
        feed.set("app_7", Secret("renewed"))
        #expect(feed.values()["app_7"] == Secret("renewed"))
    }
}
