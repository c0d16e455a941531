import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// Leases on a local store: exclusive creation, one winner among racers, expiry, renewal, release,
/// and takeover from a worker on this host that has died.
@Suite(.timeLimit(.minutes(10))) struct LeaseBoardTests {
    func store() throws -> LocalObjectStore { try LocalObjectStore(root: TestSupport.temporaryDirectory("leases")) }

    @Test func createIsExclusive() async throws {
        let store = try store()
        #expect(try await store.create("a/b.json", data: Data("1".utf8)))
        #expect(try await !store.create("a/b.json", data: Data("2".utf8)))
        #expect(try await store.get("a/b.json") == Data("1".utf8))
        #expect(try await store.list(prefix: "a/") == ["a/b.json"], "no temporary files are left")
        // Racing creators: exactly one wins.
        let wins = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<16 { group.addTask { (try? await store.create("race.json", data: Data("\(i)".utf8))) ?? false } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    @Test func oneWorkerHoldsAUnitUntilItReleasesOrTheLeaseLapses() async throws {
        let store = try store()
        let a = LeaseBoard(store: store, queue: "score", worker: "a", ttl: .seconds(1), host: "host-a", pid: 1)
        let b = LeaseBoard(store: store, queue: "score", worker: "b", ttl: .seconds(1), host: "host-b", pid: 2)
        guard case .acquired(let lease) = try await a.acquire("unit-1") else { Issue.record("a should get the free unit"); return }
        guard case .busy(let holder) = try await b.acquire("unit-1") else { Issue.record("b must not get a held unit"); return }
        #expect(holder.worker == "a")
        // Renewing keeps it; the chain stays short.
        let renewed = try await a.renew(lease)
        #expect(renewed.generation == lease.generation + 1)
        // Released: b takes it at once.
        try await a.release(renewed)
        guard case .acquired(let taken) = try await b.acquire("unit-1") else { Issue.record("a released unit is free"); return }
        // b stalls past its TTL: a takes over, and b's renewal finds the lease lost.
        try await Task.sleep(for: .milliseconds(1100))
        guard case .acquired = try await a.acquire("unit-1") else { Issue.record("a lapsed lease is free"); return }
        await #expect(throws: LeaseBoard.LeaseLost.self) { _ = try await b.renew(taken) }
    }

    /// A worker that stalled while others renewed (and deleted old generations) cannot write its
    /// way back in; a release covers a renewal the releaser never saw.
    @Test func aStalledWorkerCannotResurrectItsLeaseAndReleaseCoversLateRenewals() async throws {
        let store = try store()
        let a = LeaseBoard(store: store, queue: "score", worker: "a", ttl: .seconds(1), host: "host-a", pid: 1)
        let b = LeaseBoard(store: store, queue: "score", worker: "b", ttl: .seconds(1), host: "host-b", pid: 2)
        guard case .acquired(let stale) = try await a.acquire("u") else { Issue.record("free unit"); return }
        try await Task.sleep(for: .milliseconds(1100))
        guard case .acquired(var held) = try await b.acquire("u") else { Issue.record("a lapsed lease is free"); return }
        held = try await b.renew(try await b.renew(held))  // generation 1 and 2 are deleted now
        await #expect(throws: LeaseBoard.LeaseLost.self) { _ = try await a.renew(stale) }
        guard case .busy(let holder) = try await a.acquire("u") else { Issue.record("b still holds it"); return }
        #expect(holder.worker == "b")
        // b releases with a lease value older than its newest renewal: the head is released all the same.
        let newer = try await b.renew(held)
        try await b.release(held)
        let head = try await b.newest("u")
        #expect(head?.released == true && newer.generation < head?.generation ?? 0)
        // a release by a worker that no longer holds the unit leaves the holder alone.
        guard case .acquired = try await a.acquire("u") else { Issue.record("released unit is free"); return }
        try await b.release(newer)
        let after = try await a.newest("u")
        #expect(after?.worker == "a" && after?.released == false)
    }

    @Test func aDeadWorkerOnThisHostHoldsNothing() async throws {
        let store = try store()
        let host = ProcessInfo.processInfo.hostName
        // A pid that is not running: a short-lived child that has exited.
        let child = try TestSupport.run("/bin/sh", ["-c", "echo $$"])
        let deadPID = Int32(child.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        let dead = LeaseBoard(store: store, queue: "score", worker: "dead", ttl: .seconds(3600), host: host, pid: deadPID)
        guard case .acquired = try await dead.acquire("unit") else { Issue.record("free unit"); return }
        let live = LeaseBoard(store: store, queue: "score", worker: "live", ttl: .seconds(3600), host: host, pid: getpid())
        guard case .acquired = try await live.acquire("unit") else { Issue.record("the dead worker's lease should be taken over"); return }
        // A worker on another host is trusted until its lease lapses.
        let remote = LeaseBoard(store: store, queue: "score", worker: "remote", ttl: .seconds(3600), host: "elsewhere", pid: deadPID)
        guard case .acquired = try await remote.acquire("other") else { Issue.record("free unit"); return }
        guard case .busy = try await live.acquire("other") else { Issue.record("a remote live lease must be respected"); return }
    }
}
