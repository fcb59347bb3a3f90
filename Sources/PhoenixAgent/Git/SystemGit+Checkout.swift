import Foundation
import PhoenixCore

extension SystemGit {
    /// A clean tree of exactly `commit` at `<work>/trees/<commit>`.
    ///
    /// The tree is written by `git read-tree --reset -u` into an empty directory with an index file
    /// of its own, outside the tree, then renamed into place. Rather than `git archive`, because
    /// archive obeys `export-ignore` and `export-subst` in the repository's .gitattributes and would
    /// hand over a tree that differs from the commit; rather than a worktree, because that leaves a
    /// `.git` file in the tree and bookkeeping in the repository. The rename makes it atomic: an
    /// interrupted checkout leaves only a `.staging-` directory, removed at the adapter's next start.
    public func checkout(_ commit: String, branch: String) async throws(GitError) -> GitTree {
        try Self.checkCommit(commit, operation: "checkout")
        try Self.checkBranch(branch, operation: "fetch")
        var described = try await describe(commit)
        if described == nil {
            try await fetch(branch)
            described = try await describe(commit)
        }
        guard let (subject, author) = described else {
            throw GitError(operation: "fetch", reason: .notFound, message: "commit \(commit) is not on the remote's branch \(branch)")
        }
        let final = "\(trees)/\(commit)"
        if FileManager.default.fileExists(atPath: final) {
            // Already here, whole (it was renamed into place): it becomes the newest.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: final)
        } else {
            try await writeTree(commit, to: final)
        }
        prune(keeping: final)
        return GitTree(commit: commit, path: final, subject: subject, author: author)
    }

    /// The commit's subject and author, or nil when the commit is not in the repository.
    func describe(_ commit: String) async throws(GitError) -> (String, String)? {
        let result = try await runner.runInRepository(
            ["log", "-1", "--no-show-signature", "--format=%s%x00%an <%ae>", "\(commit)^{commit}", "--"], operation: "log")
        guard result.status == 0 else {
            if result.status == 124 { throw runner.failure("log", result, network: false) }
            return nil
        }
        let fields = result.stdout.trimmingCharacters(in: .newlines).split(separator: "\0", omittingEmptySubsequences: false)
        return (fields.first.map(String.init) ?? "", fields.count > 1 ? String(fields[1]) : "")
    }

    /// Fetches the branch's history into `refs/phoenix/heads/<branch>` (no tags, no FETCH_HEAD,
    /// never a submodule): the whole history, as signature checks walk it.
    func fetch(_ branch: String) async throws(GitError) {
        let refspec = "+refs/heads/\(branch):refs/phoenix/heads/\(branch)"
        let result = try await runner.runInRepository(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", url, refspec], operation: "fetch")
        guard result.status == 0 else { throw runner.failure("fetch", result, network: true) }
    }

    /// Writes `commit`'s tree in a staging directory and renames it to `final`.
    func writeTree(_ commit: String, to final: String) async throws(GitError) {
        let staging = "\(trees)/.staging-\(commit)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            try FileManager.default.createDirectory(atPath: "\(staging)/tree", withIntermediateDirectories: true)
        } catch {
            throw GitError(operation: "checkout", reason: .failed, message: "cannot create \(staging): \(error.localizedDescription)")
        }
        let result = try await runner.runInRepository(
            ["-c", "core.bare=false", "--work-tree=\(staging)/tree", "read-tree", "--reset", "-u", "\(commit)^{tree}"],
            environment: ["GIT_INDEX_FILE": "\(staging)/index"], operation: "checkout")
        guard result.status == 0 else { throw runner.failure("checkout", result, network: false) }
        if rename("\(staging)/tree", final) != 0 {
            let error = errno
            // Another checkout of the same commit got there first: its tree is as good as ours.
            guard (error == EEXIST || error == ENOTEMPTY) && FileManager.default.fileExists(atPath: final) else {
                throw GitError(operation: "checkout", reason: .failed, message: "cannot rename the tree into \(final): \(String(cString: strerror(error)))")
            }
        }
    }

    /// Removes all but the newest `keepTrees` trees (never `current`). Each is first renamed to a
    /// staging name, so that an interrupted removal never leaves a half tree under a commit's name.
    func prune(keeping current: String) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: trees)) ?? []).filter { !$0.hasPrefix(".") }
        let dated = names.map { name -> (String, Date) in
            let path = "\(trees)/\(name)"
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            return (path, path == current ? .distantFuture : modified)
        }
        for (path, _) in dated.sorted(by: { $0.1 > $1.1 }).dropFirst(max(options.keepTrees, 1)) {
            let doomed = "\(trees)/.staging-removed-\(UUID().uuidString)"
            guard rename(path, doomed) == 0 else { continue }
            try? FileManager.default.removeItem(atPath: doomed)
        }
    }
}
