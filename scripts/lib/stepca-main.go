// The step-ca server as Debian packages its sources (golang-github-smallstep-certificates-dev):
// the upstream command set, built by scripts/lib/stepca.sh for the tests and the lab.
package main

import (
	"fmt"
	"os"

	"github.com/smallstep/certificates/commands"
	"github.com/urfave/cli"
	"go.step.sm/cli-utils/command"

	_ "github.com/smallstep/certificates/cas/softcas"
)

func main() {
	app := cli.NewApp()
	app.Name = "step-ca"
	app.HelpName = "step-ca"
	app.Version = "0.19.0-debian-src"
	app.Flags = append(app.Flags, commands.AppCommand.Flags...)
	app.Flags = append(app.Flags, cli.HelpFlag)
	app.Commands = command.Retrieve()
	app.Action = func(ctx *cli.Context) error {
		if ctx.NArg() == 0 {
			return cli.ShowAppHelp(ctx)
		}
		return commands.AppCommand.Action.(func(*cli.Context) error)(ctx)
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
