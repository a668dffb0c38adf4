package chunkstore

import "errors"

// TEMPORARY until the streams branch lands.
func (s *Store) SetMaxStreams(n int) error { return errors.New("not yet") }
