"""FerretDB launcher and its Go wrapper module (go.mod, go.sum, main.go) shipped as package data."""
