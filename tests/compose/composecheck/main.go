// composecheck loads Compose files with compose-go, the loader Docker Compose itself uses: schema
// validation, interpolation, extends, merges and references between services. It prints the resolved
// project as JSON on stdout (what `docker compose config --format json` shows), or the loader's error
// on stderr with exit status 1. Built into .tools/go by `make go-tools`; used by
// tests/unit/test_deploy_compose.py, which has no Docker engine to ask.
//
//	composecheck FILE [FILE...]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck FILE [FILE...]")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(os.Args[1:], cli.WithOsEnv)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
