package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// neuronsCommand is `bittensor neurons`: list what `bittensor run` accepts.
func neuronsCommand() *cli.Command {
	return &cli.Command{
		Name:         "neurons",
		Usage:        "list the neurons `bittensor run` accepts",
		OnUsageError: onUsageError,
		Action: func(cCtx *cli.Context) error {
			w := tabwriter.NewWriter(cCtx.App.Writer, 0, 4, 2, ' ', 0)
			for _, k := range neuronKinds() {
				fmt.Fprintf(w, "%s\t%s\n", k.name, k.usage)
			}
			return w.Flush()
		},
	}
}
