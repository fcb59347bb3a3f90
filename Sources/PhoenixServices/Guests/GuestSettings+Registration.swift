import PhoenixCore
import PhoenixEngine

/// `--reboot`: running guests whose changes wait for a reboot are rebooted.
public enum RebootGuests: KindOption {
    public static let defaultValue = false
}

extension GuestSettings {
    /// The guests' settings take part when the `guests` stage is asked and the Proxmox API named;
    /// without the API the stage is planned as not applied, with why.
    public static let registration = KindRegistration(kind: GuestSettingsKind()) { environment in
        guard environment.asks(.guests) else { return .none }
        guard let client = environment.proxmox else { return KindSetup(notApplied: [(.guests, environment.withoutAPI)]) }
        let wanted = environment.estate.guests.filter { $0.enabled && (environment.scope?.guests.contains($0.id) ?? true) }
        var guests = GuestSettings(estate: environment.estate, client: client, wanted: wanted)
        guests.refresh = environment.refresh
        guests.reboot = environment.options[RebootGuests.self]
        return KindSetup(runner: guests.runner(executor: environment.executor()))
    }
}
