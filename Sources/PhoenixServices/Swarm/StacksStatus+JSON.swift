import PhoenixCore

/// `stacks status --format json` and the agent's `/api/v1/stacks`: one renderer, field names a contract.
extension StacksStatus {
    public var json: JSONValue {
        .object([
            ("version", .number(1)),
            (
                "stacks",
                .array(
                    stacks.map { stack in
                        .object([
                            ("resource", .string(stack.resource)), ("stack", .string(stack.namespace)), ("configured", .bool(stack.configured)),
                            ("last_deploy_run", stack.lastDeployRun.map { .number(Double($0)) } ?? .null),
                            ("spec_hash", stack.specHash.map(JSONValue.string) ?? .null), ("health", .string(stack.health)),
                            (
                                "services",
                                .array(
                                    stack.services.map { service in
                                        .object([
                                            ("name", .string(service.name)), ("image", .string(service.image)), ("desired", .number(Double(service.desired))),
                                            ("running", .number(Double(service.running))),
                                            ("update_state", service.updateState.map(JSONValue.string) ?? .null),
                                            ("spec_hash", service.specHash.map(JSONValue.string) ?? .null), ("converged", .bool(service.converged)),
                                        ])
                                    })
                            ),
                        ])
                    })
            ),
        ])
    }
}
