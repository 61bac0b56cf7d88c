// Command dbarena-ferretdb runs embeddable FerretDB in the foreground until SIGTERM/SIGINT.
//
// dbarena builds this wrapper instead of FerretDB's own cmd: a plain `go install` of
// that cmd panics on the missing generated build/version/version.txt, while the
// embeddable package skips that check when it is not the main module.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", "data", "directory for the SQLite backend's databases")
	pgURL := flag.String("postgresql-url", os.Getenv("FERRETDB_POSTGRESQL_URL"),
		"PostgreSQL URL; when set, the PostgreSQL backend is used instead of SQLite")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fatal(fmt.Errorf("bad -log-level: %w", err))
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
	}
	if *pgURL != "" {
		config.Handler = "postgresql"
		config.PostgreSQLURL = *pgURL
	} else {
		dir, err := filepath.Abs(*dataDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			fatal(err)
		}
		config.Handler = "sqlite"
		config.SQLiteURL = "file:" + dir + "/" // FerretDB wants a directory URI ending in "/"
	}

	f, err := ferretdb.New(config)
	if err != nil {
		fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Run returns once ctx is cancelled and listeners, connections and the backend are closed.
	fmt.Fprintf(os.Stderr, "dbarena-ferretdb: %s backend, serving %s\n", config.Handler, f.MongoDBURI())
	if err := f.Run(ctx); err != nil {
		fatal(err)
	}
	fmt.Fprintln(os.Stderr, "dbarena-ferretdb: stopped")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "dbarena-ferretdb:", err)
	os.Exit(1)
}
