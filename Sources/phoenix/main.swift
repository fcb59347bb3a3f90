import PhoenixCLI
PhoenixCommand.main()
