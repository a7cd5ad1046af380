// dockerfilecheck runs BuildKit's own Dockerfile parser and build checks (what `docker build --check`
// reports: syntax errors, instruction arguments, and lint rules such as JSONArgsRecommended or
// LegacyKeyValueFormat) without a Docker engine and without the network: base images are answered by
// an offline resolver with an empty Linux image. It prints {"warnings": [...], "error": "..."} as JSON
// and exits 0 only when there is neither. Built into .tools/go by `make go-tools`; used by
// tests/unit/test_deploy_compose.py.
//
//	dockerfilecheck Dockerfile
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	digest "github.com/opencontainers/go-digest"
)

type warning struct {
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
	Line   int32  `json:"line"`
}

type report struct {
	Warnings []warning `json:"warnings"`
	Error    string    `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfilecheck Dockerfile")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	source := llb.NewSourceMap(nil, os.Args[1], "Dockerfile", data)
	definition, err := llb.Scratch().Marshal(ctx)
	if err != nil {
		fail(err)
	}
	source.Definition = definition
	results, err := dockerfile2llb.DockerfileLint(ctx, data, dockerfile2llb.ConvertOpt{
		SourceMap:    source,
		MetaResolver: offline{},
	})
	if err != nil {
		fail(err)
	}
	out := report{Warnings: []warning{}}
	for _, w := range results.Warnings {
		line := int32(0)
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = w.Location.Ranges[0].Start.Line
		}
		out.Warnings = append(out.Warnings, warning{Rule: w.RuleName, Detail: w.Detail, Line: line})
	}
	if results.Error != nil {
		out.Error = results.Error.Message
	}
	text, err := json.Marshal(out)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(text))
	if out.Error != "" || len(out.Warnings) > 0 {
		os.Exit(1)
	}
}

// offline answers every base image lookup with an empty Linux image, so nothing is fetched.
type offline struct{}

func (offline) ResolveImageConfig(
	ctx context.Context, ref string, opt sourceresolver.Opt,
) (string, digest.Digest, []byte, error) {
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]},` +
		`"rootfs":{"type":"layers","diff_ids":[]}}`)
	return ref, digest.FromBytes(config), config, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
