// A registry WITH the OCI 1.1 referrers API, for the referrers tests: go-containerregistry's
// pkg/registry with WithReferrersSupport(true), which `crane registry serve` leaves off. Blobs on
// disk (--disk DIR) or in memory; manifests in memory until the process exits.
//
// Usage: referrers-registry --address 127.0.0.1:PORT [--disk DIR]
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	address := flag.String("address", "127.0.0.1:0", "address to listen on")
	disk := flag.String("disk", "", "directory for blobs (default: memory)")
	flag.Parse()
	options := []registry.Option{registry.WithReferrersSupport(true)}
	if *disk != "" {
		options = append(options, registry.WithBlobHandler(registry.NewDiskBlobHandler(*disk)))
	}
	log.Printf("serving on %s", *address)
	log.Fatal(http.ListenAndServe(*address, registry.New(options...)))
}
