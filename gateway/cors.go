package gateway

import (
	"context"

	"github.com/cairn-backup/cairn/chunkstore"
	"github.com/cairn-backup/cairn/s3api"
)

// keyCORS holds a bucket's CORS configuration (corsRecord, JSON), beside
// its lifecycle configuration (meta.go's layout).
var keyCORS = []byte("cors")

// corsRecord is a bucket's CORS configuration as the gateway keeps it: its
// own type, so that a change of s3api's never changes what is on disk.
// s3api validated it before it got here.
type corsRecord struct {
	Rules []corsRuleRecord `json:"rules"`
}

type corsRuleRecord struct {
	ID      string   `json:"id,omitempty"`
	Origins []string `json:"origins"`
	Methods []string `json:"methods"`
	Headers []string `json:"headers,omitempty"`
	Expose  []string `json:"expose,omitempty"`
	MaxAge  int      `json:"maxAge"` // -1: none
}

func corsRecordOf(cfg s3api.CORSConfig) corsRecord {
	rec := corsRecord{Rules: make([]corsRuleRecord, len(cfg.Rules))}
	for i, r := range cfg.Rules {
		rec.Rules[i] = corsRuleRecord{ID: r.ID, Origins: r.AllowedOrigins, Methods: r.AllowedMethods,
			Headers: r.AllowedHeaders, Expose: r.ExposeHeaders, MaxAge: r.MaxAgeSeconds}
	}
	return rec
}

func (rec corsRecord) s3() s3api.CORSConfig {
	cfg := s3api.CORSConfig{Rules: make([]s3api.CORSRule, len(rec.Rules))}
	for i, r := range rec.Rules {
		cfg.Rules[i] = s3api.CORSRule{ID: r.ID, AllowedOrigins: r.Origins, AllowedMethods: r.Methods,
			AllowedHeaders: r.Headers, ExposeHeaders: r.Expose, MaxAgeSeconds: r.MaxAge}
	}
	return cfg
}

// PutBucketCors replaces the bucket's CORS configuration.
func (g *Gateway) PutBucketCors(_ context.Context, bucket string, cfg s3api.CORSConfig) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	doc, err := encode(corsRecordOf(cfg))
	if err != nil {
		return err
	}
	return mapErr(g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		return k.b.Put(keyCORS, doc)
	}))
}

// GetBucketCors answers the configuration, or ErrNoSuchCORSConfiguration.
// Preflights and every browser request read it: one read transaction.
func (g *Gateway) GetBucketCors(_ context.Context, bucket string) (s3api.CORSConfig, error) {
	var rec corsRecord
	err := g.viewBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		v := k.b.Get(keyCORS)
		if v == nil {
			return s3api.ErrNoSuchCORSConfiguration
		}
		return decode(v, &rec)
	})
	if err != nil {
		return s3api.CORSConfig{}, mapErr(err)
	}
	return rec.s3(), nil
}

// DeleteBucketCors removes the configuration; removing none succeeds, as
// in S3.
func (g *Gateway) DeleteBucketCors(_ context.Context, bucket string) error {
	if err := g.writable(bucket); err != nil {
		return err
	}
	return mapErr(g.updateBucket(bucket, func(_ *chunkstore.Tx, k *bkt) error {
		if k.b.Get(keyCORS) == nil {
			return nil
		}
		return k.b.Delete(keyCORS)
	}))
}

var _ s3api.CORSBackend = (*Gateway)(nil)
