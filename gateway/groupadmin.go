package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/chunkstore"
)

// Storage groups as admins run them: added, changed and removed while the
// gateway runs (cairn admin group ...), kept in meta.db's group rows so
// that they open at every start without a --group flag. A group's settings
// (performance tier, quota, stream limit) live in its row too.

// DefaultMinQuota is the smallest quota a group may be given unless
// Config.MinQuota lowers it: the appliance's 100 GiB.
const DefaultMinQuota = 100 << 30

// GroupSpec is a group to add (POST AdminGroupsPath).
type GroupSpec struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	// Performance marks the group as a performance tier: fast storage
	// whose buckets read and write only there.
	Performance bool  `json:"performance,omitempty"`
	Quota       int64 `json:"quota,omitempty"`   // physical bytes; 0: none
	Streams     int   `json:"streams,omitempty"` // stream limit; 0: the default
	// Compression of new chunks: none, s2, zstd or zstd-later; "": the
	// store's default (zstd-later).
	Compression string `json:"compression,omitempty"`
}

// GroupChange changes a group's settings (PATCH AdminGroupsPath?name=);
// nil fields stay as they are. A Quota of 0 removes the quota.
type GroupChange struct {
	Performance *bool   `json:"performance,omitempty"`
	Quota       *int64  `json:"quota,omitempty"`
	Streams     *int    `json:"streams,omitempty"`
	Compression *string `json:"compression,omitempty"`
}

// GroupInfo is one group as `cairn admin group ls` shows it.
type GroupInfo struct {
	GroupStats
	Performance bool `json:"performance,omitempty"`
	// Compression is how new chunks are compressed: none, s2, zstd or
	// zstd-later.
	Compression string `json:"compression"`
	// Filesystem is the type of the filesystem the group's directory is on;
	// Capacity and Free are its size and what it has free.
	Filesystem string `json:"filesystem"`
	Capacity   int64  `json:"capacity"`
	Free       int64  `json:"free"`
	// Used is the group's physical bytes: what its quota counts.
	Used int64 `json:"used"`
	// DedupRatio is logical bytes per unique byte (Ratio, beside it, is
	// logical bytes per byte on disk: dedup and compression).
	DedupRatio float64 `json:"dedup_ratio"`
	Quota      int64   `json:"quota,omitempty"`
	// Streams is the stream limit; ActiveStreams the writes under way now,
	// StreamOverflows how often since the start a write had to share a
	// container file because the limit was reached.
	Streams         int      `json:"streams"`
	ActiveStreams   int64    `json:"active_streams"`
	StreamOverflows int64    `json:"stream_overflows"`
	Buckets         []string `json:"buckets"`
}

// AdminError is an admin request the caller got wrong: the admin API
// answers it with its status, code and message.
type AdminError struct {
	Status  int
	Code    string
	Message string
}

func (e *AdminError) Error() string { return e.Message }

func badRequest(format string, args ...any) error {
	return &AdminError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: fmt.Sprintf(format, args...)}
}

func conflict(code, format string, args ...any) error {
	return &AdminError{Status: http.StatusConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

func noSuchGroup(name string) error {
	return &AdminError{Status: http.StatusNotFound, Code: "NoSuchGroup", Message: fmt.Sprintf("there is no storage group %q (cairn admin group ls lists them)", name)}
}

// validGroupName says what is wrong with a group name, if anything.
func validGroupName(name string) error {
	if name == "" || len(name) > 63 || strings.ContainsAny(name, "=,/\\ \t\n") {
		return fmt.Errorf("bad storage group name %q (letters, digits, '-', '_', '.'; at most 63)", name)
	}
	return nil
}

// AddGroup adds a storage group while the gateway runs: its directory is
// made if missing and opened as a chunk store; a directory that holds
// another group's store is refused. Re-adding a group removed earlier on
// the same directory brings its buckets back.
func (g *Gateway) AddGroup(ctx context.Context, spec GroupSpec) (GroupInfo, error) {
	if err := validGroupName(spec.Name); err != nil {
		return GroupInfo{}, badRequest("%v", err)
	}
	if spec.Dir == "" {
		return GroupInfo{}, badRequest("storage group %q: give its directory (--path DIR)", spec.Name)
	}
	if spec.Quota < 0 || spec.Streams < 0 {
		return GroupInfo{}, badRequest("storage group %q: quota and streams must not be negative", spec.Name)
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return GroupInfo{}, badRequest("storage group %q: directory %s: %v", spec.Name, spec.Dir, err)
	}
	g.groupAdmin.Lock()
	defer g.groupAdmin.Unlock()
	if gr, err := g.group(spec.Name); err == nil {
		return GroupInfo{}, conflict("GroupExists", "storage group %q exists, at %s", spec.Name, gr.dir)
	}
	for _, gr := range g.groupList() {
		if overlaps(dir, gr.dir) {
			return GroupInfo{}, conflict("DirectoryInUse", "directory %s overlaps storage group %q's directory %s: each group needs a directory of its own", dir, gr.name, gr.dir)
		}
	}
	if overlaps(dir, g.cfg.DataDir) && !strings.HasPrefix(dir, filepath.Join(g.cfg.DataDir, "groups")+string(filepath.Separator)) {
		return GroupInfo{}, conflict("DirectoryInUse", "directory %s overlaps the data directory %s (a directory under %s is fine)", dir, g.cfg.DataDir, filepath.Join(g.cfg.DataDir, "groups"))
	}
	if spec.Quota > 0 {
		if err := g.checkQuota(spec.Name, dir, spec.Quota, 0); err != nil {
			return GroupInfo{}, err
		}
	}
	if spec.Compression != "" { // "": the store's default
		if err := checkCompression(spec.Name, spec.Compression); err != nil {
			return GroupInfo{}, err
		}
	}
	row := groupRow{Dir: dir, Added: true, Performance: spec.Performance, Quota: spec.Quota, Streams: spec.Streams, Compression: spec.Compression}
	gr, err := openGroup(ctx, g.cfg, g.log, spec.Name, dir, g.tiers.reg, row)
	if err != nil {
		return GroupInfo{}, badRequest("%v", err)
	}
	owner, buckets, err := groupContents(gr)
	if err == nil && owner != "" && owner != spec.Name {
		err = conflict("DirectoryInUse", "directory %s holds storage group %q", dir, owner)
	}
	g.mu.Lock()
	if err == nil {
		for _, b := range buckets {
			if other := g.buckets[b]; other != nil {
				err = conflict("BucketExists", "directory %s holds bucket %s, which storage group %q holds too", dir, b, other.name)
				break
			}
		}
	}
	if err == nil {
		row.MayHoldBuckets = len(buckets) > 0
		err = g.putGroupRow(spec.Name, row)
	}
	if err != nil {
		g.mu.Unlock()
		gr.store.Close()
		return GroupInfo{}, err
	}
	g.groups[spec.Name] = gr
	for _, b := range buckets {
		g.buckets[b] = gr
	}
	g.mu.Unlock()
	if err := g.loadReplicas(gr); err != nil {
		g.log.Warn("reading the replicas of an added group", "group", gr.name, "err", err)
	}
	g.startAutoClean(gr)
	g.log.Info("storage group added", "group", spec.Name, "dir", dir, "performance", spec.Performance, "quota", spec.Quota, "buckets", len(buckets))
	return g.groupInfo(ctx, gr)
}

// overlaps says whether one directory is the other or inside it.
func overlaps(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	sep := string(filepath.Separator)
	return a == b || strings.HasPrefix(a, b+sep) || strings.HasPrefix(b, a+sep)
}

// SetGroup changes a group's settings; a quota is checked against the
// minimum, the group's use and its filesystem's capacity, and a refusal
// changes nothing.
func (g *Gateway) SetGroup(ctx context.Context, name string, ch GroupChange) (GroupInfo, error) {
	g.groupAdmin.Lock()
	defer g.groupAdmin.Unlock()
	gr, err := g.group(name)
	if err != nil {
		return GroupInfo{}, noSuchGroup(name)
	}
	row := gr.settings()
	if ch.Quota != nil {
		if *ch.Quota < 0 {
			return GroupInfo{}, badRequest("storage group %q: quota must not be negative (0 removes it)", name)
		}
		if *ch.Quota > 0 {
			used, err := gr.store.PhysicalBytes()
			if err != nil {
				return GroupInfo{}, err
			}
			if err := g.checkQuota(name, gr.dir, *ch.Quota, used); err != nil {
				return GroupInfo{}, err
			}
		}
		row.Quota = *ch.Quota
	}
	if ch.Streams != nil {
		n := *ch.Streams
		if n < 1 {
			return GroupInfo{}, badRequest("storage group %q: streams must be at least 1", name)
		}
		if err := gr.store.SetMaxStreams(n); err != nil {
			return GroupInfo{}, badRequest("storage group %q: %v", name, err)
		}
		row.Streams = *ch.Streams
	}
	if ch.Performance != nil {
		row.Performance = *ch.Performance
	}
	if ch.Compression != nil {
		if err := checkCompression(name, *ch.Compression); err != nil {
			return GroupInfo{}, err
		}
		row.Compression = *ch.Compression
	}
	if err := g.saveSettings(gr, row); err != nil {
		return GroupInfo{}, err
	}
	if err := gr.store.SetQuota(row.Quota); err != nil {
		return GroupInfo{}, err
	}
	if ch.Compression != nil {
		if err := gr.store.SetCompression(chunkstore.Compression(row.Compression)); err != nil {
			return GroupInfo{}, err
		}
	}
	g.log.Info("storage group changed", "group", name, "performance", row.Performance, "quota", row.Quota, "streams", row.Streams, "compression", gr.store.Compression())
	return g.groupInfo(ctx, gr)
}

// checkCompression refuses a compression setting the chunk store does not
// know, before anything changes.
func checkCompression(group, c string) error {
	if err := chunkstore.Compression(c).Check(); err != nil {
		return badRequest("storage group %q: %v", group, err)
	}
	return nil
}

// checkQuota applies the quota rules: not below the minimum, not below
// what the group uses, not above its filesystem's capacity.
func (g *Gateway) checkQuota(name, dir string, quota, used int64) error {
	if quota < g.minQuota() {
		return badRequest("storage group %q: a quota of %s is below the minimum of %s (cairn serve --min-quota lowers it)", name, iec(quota), iec(g.minQuota()))
	}
	if quota < used {
		return badRequest("storage group %q: a quota of %s is below what the group uses, %s: delete data and run the cleaner first", name, iec(quota), iec(used))
	}
	// A group being added may name a directory not made yet: its
	// filesystem is its nearest existing parent's.
	var st syscall.Statfs_t
	fsDir := dir
	for syscall.Statfs(fsDir, &st) != nil && filepath.Dir(fsDir) != fsDir {
		fsDir = filepath.Dir(fsDir)
	}
	if st.Blocks > 0 {
		if capacity := int64(st.Blocks) * st.Bsize; quota > capacity {
			return badRequest("storage group %q: a quota of %s is above the capacity of its filesystem at %s, %s", name, iec(quota), dir, iec(capacity))
		}
	}
	return nil
}

func (g *Gateway) minQuota() int64 {
	if g.cfg.MinQuota > 0 {
		return g.cfg.MinQuota
	}
	return DefaultMinQuota
}

// RemoveGroup forgets a storage group that holds no bucket. Its directory
// is left as it is: adding the group again on it later works.
func (g *Gateway) RemoveGroup(ctx context.Context, name string) error {
	g.groupAdmin.Lock()
	defer g.groupAdmin.Unlock()
	if name == DefaultGroup {
		return conflict("GroupInUse", "the default storage group cannot be removed")
	}
	if _, ok := g.cfg.Groups[name]; ok {
		return conflict("GroupInUse", "storage group %q is named by --group at start: drop that flag (and restart) before removing it", name)
	}
	g.mu.Lock()
	gr, ok := g.groups[name]
	if !ok {
		g.mu.Unlock()
		return noSuchGroup(name)
	}
	var buckets []string
	for b, bg := range g.buckets {
		if bg == gr {
			buckets = append(buckets, b)
		}
	}
	if len(buckets) > 0 {
		g.mu.Unlock()
		slices.Sort(buckets)
		more := ""
		if len(buckets) > 10 {
			more = fmt.Sprintf(" and %d more", len(buckets)-10)
			buckets = buckets[:10]
		}
		return conflict("GroupInUse", "storage group %q holds buckets %s%s: delete them first", name, strings.Join(buckets, ", "), more)
	}
	err := g.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktGroups).Delete([]byte(name)) })
	if err == nil {
		delete(g.groups, name)
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gateway: meta.db: %w", err)
	}
	gr.stopAutoClean()
	if err := gr.store.Close(); err != nil {
		g.log.Warn("closing a removed storage group", "group", name, "err", err)
	}
	g.log.Info("storage group removed; its directory is left as it is", "group", name, "dir", gr.dir)
	return nil
}

// Groups lists every storage group with its figures and settings.
func (g *Gateway) Groups(ctx context.Context) ([]GroupInfo, error) {
	var out []GroupInfo
	for _, gr := range g.groupList() {
		gi, err := g.groupInfo(ctx, gr)
		if errors.Is(err, chunkstore.ErrClosed) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("storage group %s: %w", gr.name, err)
		}
		out = append(out, gi)
	}
	return out, nil
}

func (g *Gateway) groupInfo(ctx context.Context, gr *group) (GroupInfo, error) {
	st, err := gr.store.Stats(ctx)
	if err != nil {
		return GroupInfo{}, err
	}
	used, err := gr.store.PhysicalBytes()
	if err != nil {
		return GroupInfo{}, err
	}
	row := gr.settings()
	gi := GroupInfo{
		GroupStats: groupStats(gr.name, gr.dir, st), Performance: row.Performance, Compression: string(gr.store.Compression()),
		Used: used, DedupRatio: st.DedupRatio(), Quota: gr.store.Quota(), Streams: st.MaxStreams, Buckets: []string{},
		ActiveStreams: st.ActiveStreams, StreamOverflows: st.StreamOverflows,
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(gr.dir, &fs); err == nil {
		gi.Filesystem = fsTypeName(int64(fs.Type))
		gi.Capacity = int64(fs.Blocks) * fs.Bsize
		gi.Free = int64(fs.Bavail) * fs.Bsize
	}
	g.mu.RLock()
	for b, bg := range g.buckets {
		if bg == gr {
			gi.Buckets = append(gi.Buckets, b)
		}
	}
	g.mu.RUnlock()
	slices.Sort(gi.Buckets)
	return gi, nil
}

// fsTypeName names the common Linux filesystem magic numbers (statfs(2)).
func fsTypeName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0x6969:
		return "nfs"
	case 0x794C7630:
		return "overlayfs"
	case 0xFF534D42:
		return "cifs"
	}
	return fmt.Sprintf("0x%x", magic)
}

// iec formats a byte count for a message: 100 GiB, 1.5 MiB.
func iec(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// groupContents reads which group a store says it is and its buckets.
func groupContents(gr *group) (owner string, buckets []string, err error) {
	err = gr.store.View(func(tx *chunkstore.Tx) error {
		if sys := tx.Bucket().Bucket(bktSys); sys != nil {
			owner = string(sys.Get(keyGroupName))
		}
		root := tx.Bucket().Bucket(bktBuckets)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error {
			buckets = append(buckets, string(k))
			return nil
		})
	})
	if err != nil {
		return "", nil, fmt.Errorf("storage group %q: %w", gr.name, err)
	}
	return owner, buckets, nil
}

// saveSettings writes a group's settings into its row and the group.
func (g *Gateway) saveSettings(gr *group, row groupRow) error {
	err := g.updateGroupRow(gr.name, func(r *groupRow) {
		r.Dir = gr.dir
		r.Performance, r.Quota, r.Streams, r.Compression = row.Performance, row.Quota, row.Streams, row.Compression
	})
	if err != nil {
		return fmt.Errorf("gateway: meta.db: %w", err)
	}
	gr.setSettings(row)
	return nil
}

// missingGroupDir is the start-up error for a group registered by
// cairn admin group add whose directory is gone.
func missingGroupDir(name, dir string) error {
	return fmt.Errorf("storage group %q: its directory %s is missing: is its disk mounted? (mount it, or start with --group %s=DIR if it moved; cairn admin group rm %s forgets a group without buckets)", name, dir, name, name)
}

// statDir reports a missing directory as such.
func statDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
