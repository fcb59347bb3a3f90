import Foundation

/// Users and groups of this machine, looked up with the reentrant `getpw*_r`/`getgr*_r` calls.
///
/// The plain `getpwnam` family returns a pointer into one static buffer per process: with
/// resources converging in parallel, one task's `getgrgid(0)` can overwrite another's
/// `getgrnam("www-data")` before it reads the id, and a key ends up owned by the wrong group.
enum Accounts {
    static func userID(_ name: String) -> uid_t? {
        withEntry(passwd.self, sysconf(Int32(_SC_GETPW_R_SIZE_MAX))) { entry, buffer, size, result in
            getpwnam_r(name, entry, buffer, size, result)
        }?.pw_uid
    }

    static func groupID(_ name: String) -> gid_t? {
        withEntry(group.self, sysconf(Int32(_SC_GETGR_R_SIZE_MAX))) { entry, buffer, size, result in
            getgrnam_r(name, entry, buffer, size, result)
        }?.gr_gid
    }

    static func userName(_ uid: uid_t) -> String? {
        var name: String?
        _ = withEntry(passwd.self, sysconf(Int32(_SC_GETPW_R_SIZE_MAX))) { entry, buffer, size, result in
            let status = getpwuid_r(uid, entry, buffer, size, result)
            if status == 0, result.pointee != nil, let field = entry.pointee.pw_name { name = String(cString: field) }
            return status
        }
        return name
    }

    static func groupName(_ gid: gid_t) -> String? {
        var name: String?
        _ = withEntry(group.self, sysconf(Int32(_SC_GETGR_R_SIZE_MAX))) { entry, buffer, size, result in
            let status = getgrgid_r(gid, entry, buffer, size, result)
            if status == 0, result.pointee != nil, let field = entry.pointee.gr_name { name = String(cString: field) }
            return status
        }
        return name
    }

    /// Calls a `get*_r` function with a buffer of its own, growing it while the call says ERANGE.
    /// The entry is returned by value: its string fields point into the buffer, so callers read
    /// only the numeric ids from it (the name lookups copy their string inside the call).
    private static func withEntry<Entry>(
        _: Entry.Type, _ suggested: Int,
        _ call: (UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>) -> Int32
    ) -> Entry? {
        var size = suggested > 0 ? suggested : 1024
        while size <= 1 << 20 {
            let entry = UnsafeMutablePointer<Entry>.allocate(capacity: 1)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            var result: UnsafeMutablePointer<Entry>?
            defer {
                entry.deallocate()
                buffer.deallocate()
            }
            let status = call(entry, buffer, size, &result)
            if status == ERANGE {
                size *= 2
                continue
            }
            guard status == 0, result != nil else { return nil }
            return entry.pointee
        }
        return nil
    }
}
