package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/opentensor/bittensor-go/neuron"
	"github.com/opentensor/bittensor-go/neuron/keys"
)

// keygenCommand is `bittensor keygen`: create a neuron key file.
func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "create an ed25519 neuron key file and print its public keys",
		Description: "The file (mode 0600) is what `bittensor run NEURON --neuron_key FILE` signs with;\n" +
			"the public key, in hex, is the neuron's name on the network. The file also holds the\n" +
			"key of the neuron's synapse, so that peers find the same synapse on every run.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "neuron_key", EnvVars: envVars("neuron_key"), Value: defaultKeyPath(),
				Usage: "where to write the key file"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing key file"},
		},
		OnUsageError: onUsageError,
		Action: func(cCtx *cli.Context) error {
			path := cCtx.String("neuron_key")
			if path == "" {
				return &neuron.UsageError{Flag: "neuron_key", Err: errors.New("empty, want a file path")}
			}
			if _, err := os.Stat(path); err == nil && !cCtx.Bool("force") {
				return &neuron.UsageError{Flag: "neuron_key", Err: fmt.Errorf("%s exists; pass --force to replace it", path)}
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("keygen: %w", err)
			}
			id, err := keys.NewIdentity()
			if err != nil {
				return err
			}
			if err := id.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cCtx.App.Writer, "neuron key: %s\npublic key: %s\nsynapse key: %s\nuse it with: bittensor run NEURON --neuron_key %s\n",
				path, id.Neuron.PublicHex(), id.Synapse.PublicHex(), path)
			return nil
		},
	}
}

// defaultKeyPath is ~/.bittensor/neuron.key, or neuron.key when there is no home.
func defaultKeyPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "neuron.key"
	}
	return filepath.Join(home, ".bittensor", "neuron.key")
}
