//go:build !unix

package chunkstore

func mapBuf(n int) ([]byte, bool) { return make([]byte, n), false }

func releasePages([]byte) {}
