import PhoenixCLI

await PhoenixCommand.start()
