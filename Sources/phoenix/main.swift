import PhoenixAgent
import PhoenixCLI

// Started by git as its askpass or ssh helper, phoenix answers or becomes ssh here, before any command is parsed.
GitHelperMode.runIfAsked()
await PhoenixCommand.start()
