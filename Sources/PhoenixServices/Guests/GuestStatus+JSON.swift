import PhoenixCore

/// `status --format json` and the agent's `/api/v1/guests`: one renderer, field names a contract.
extension GuestStatus {
    public var json: JSONValue {
        .object([
            ("version", .number(1)),
            (
                "guests",
                .array(
                    rows.map { row in
                        .object([
                            ("id", .string(String(row.id))), ("kind", .string(row.kind)), ("name", .string(row.name)), ("status", .string(row.status)),
                            ("node", .string(row.node)), ("note", .string(row.notes.joined(separator: "; "))),
                        ])
                    })
            ),
        ])
    }
}
