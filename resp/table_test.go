package resp

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/raftcache/raftcache/test/redisoracle"
)

// redisCommandsDir holds Redis 7.2's command metadata (src/commands/*.json).
// It sits beside the repository checkout, here and in CI.
const redisCommandsDir = "../../shared/redis-commands"

// served is every command raftcache answers, by family. The table must
// register exactly these, and the subcommands listed.
var served = map[string][]string{
	"string":       strings.Fields("get set setnx setex psetex getset getdel getex mget mset msetnx append strlen getrange substr setrange incr decr incrby decrby incrbyfloat lcs"),
	"hash":         strings.Fields("hset hsetnx hmset hget hmget hgetall hdel hexists hlen hkeys hvals hstrlen hincrby hincrbyfloat hrandfield hscan"),
	"generic":      strings.Fields("del unlink exists type keys scan randomkey rename renamenx copy touch expire pexpire expireat pexpireat ttl pttl expiretime pexpiretime persist object wait"),
	"server":       strings.Fields("acl dbsize flushdb flushall info config command lastsave save bgsave time memory slowlog latency debug role shutdown swapdb"),
	"connection":   strings.Fields("ping echo quit select auth hello client reset"),
	"transactions": strings.Fields("multi exec discard watch unwatch"),
	"cluster":      strings.Fields("asking cluster readonly readwrite"),
}

var servedSubcommands = map[string][]string{
	"acl":     strings.Fields("cat deluser dryrun genpass getuser help list load log save setuser users whoami"),
	"object":  strings.Fields("encoding freq idletime refcount help"),
	"config":  strings.Fields("get set resetstat help rewrite"),
	"command": strings.Fields("count info docs list getkeys getkeysandflags help"),
	"memory":  strings.Fields("usage stats doctor malloc-stats purge help"),
	"slowlog": strings.Fields("get len reset help"),
	"latency": strings.Fields("latest history reset doctor histogram help"),
	"client":  strings.Fields("id setname getname list info kill setinfo reply no-evict no-touch help pause unpause"),
	"cluster": strings.Fields("info nodes slots shards myid myshardid keyslot countkeysinslot getkeysinslot meet forget help reset links"),
}

// redisCommand is the part of a Redis command JSON file the table models.
type redisCommand struct {
	Summary         string   `json:"summary"`
	Group           string   `json:"group"`
	Since           string   `json:"since"`
	Arity           int      `json:"arity"`
	Container       string   `json:"container"`
	Flags           []string `json:"command_flags"`
	ACL             []string `json:"acl_categories"`
	Tips            []string `json:"command_tips"`
	DocFlags        []string `json:"doc_flags"`
	DeprecatedSince string   `json:"deprecated_since"`
	GetKeysFunction string   `json:"get_keys_function"`
	KeySpecs        []struct {
		Notes       string   `json:"notes"`
		Flags       []string `json:"flags"`
		BeginSearch struct {
			Index *struct {
				Pos int `json:"pos"`
			} `json:"index"`
		} `json:"begin_search"`
		FindKeys struct {
			Range *struct {
				LastKey int `json:"lastkey"`
				Step    int `json:"step"`
				Limit   int `json:"limit"`
			} `json:"range"`
		} `json:"find_keys"`
	} `json:"key_specs"`
}

var jsonFlags = map[string]Flag{
	"WRITE": FlagWrite, "READONLY": FlagReadOnly, "DENYOOM": FlagDenyOOM, "ADMIN": FlagAdmin,
	"PUBSUB": FlagPubSub, "NOSCRIPT": FlagNoScript, "BLOCKING": FlagBlocking, "LOADING": FlagLoading,
	"STALE": FlagStale, "SKIP_MONITOR": FlagSkipMonitor, "SKIP_SLOWLOG": FlagSkipSlowlog,
	"FAST": FlagFast, "NO_AUTH": FlagNoAuth, "MAY_REPLICATE": FlagMayReplicate,
	"NO_MULTI": FlagNoMulti, "ALLOW_BUSY": FlagAllowBusy, "NO_ASYNC_LOADING": FlagNoAsyncLoading,
	"TOUCHES_ARBITRARY_KEYS": FlagTouchesArbitraryKeys, "SENTINEL": FlagSentinel,
	"PROTECTED": FlagProtected,
}

var jsonKeyFlags = map[string]KeyFlag{
	"RO": KeyRO, "RW": KeyRW, "OW": KeyOW, "RM": KeyRM, "ACCESS": KeyAccess, "UPDATE": KeyUpdate,
	"INSERT": KeyInsert, "DELETE": KeyDelete, "NOT_KEY": KeyNotKey, "INCOMPLETE": KeyIncomplete,
	"VARIABLE_FLAGS": KeyVariableFlags,
}

func loadRedisCommand(t *testing.T, file string) *redisCommand {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(redisCommandsDir, file))
	if err != nil {
		t.Fatalf("no Redis metadata for a registered command: %v", err)
	}
	var top map[string]redisCommand
	if err := json.Unmarshal(data, &top); err != nil || len(top) != 1 {
		t.Fatalf("%s: %v (%d entries)", file, err, len(top))
	}
	for _, c := range top {
		return &c
	}
	return nil
}

func TestTableMatchesRedis(t *testing.T) {
	if _, err := os.Stat(redisCommandsDir); errors.Is(err, fs.ErrNotExist) {
		redisoracle.Missing(t, redisCommandsDir+" (Redis's command metadata) is missing",
			"put ../shared/redis-commands beside the repository checkout")
	}

	var want []string
	for _, names := range served {
		want = append(want, names...)
	}
	var got []string
	for _, c := range Commands() {
		got = append(got, c.Name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("registered commands differ from the served list\n got %q\nwant %q", got, want)
	}

	containers := redisContainers(t)
	for group, names := range served {
		for _, name := range names {
			c := Lookup([]byte(name))
			if c == nil {
				continue // reported above
			}
			rc := loadRedisCommand(t, name+".json")
			checkCommand(t, c, rc)
			if (c.Subcommands != nil) != containers[name] {
				t.Errorf("%s: has subcommands %v, Redis container %v", name, c.Subcommands != nil, containers[name])
			}
			if rc.Group != group {
				t.Errorf("%s: Redis group %q is not its family %q in the test", name, rc.Group, group)
			}
			subs := servedSubcommands[name]
			var gotSubs []string
			for sub := range c.Subcommands {
				gotSubs = append(gotSubs, sub)
			}
			sort.Strings(gotSubs)
			sort.Strings(subs)
			if !slices.Equal(gotSubs, subs) {
				t.Errorf("%s: subcommands %q, want %q", name, gotSubs, subs)
			}
			for _, sub := range gotSubs {
				src := loadRedisCommand(t, name+"-"+sub+".json")
				if !strings.EqualFold(src.Container, name) {
					t.Errorf("%s|%s: Redis's container is %q", name, sub, src.Container)
				}
				checkCommand(t, c.Subcommands[sub], src)
				if c.Subcommands[sub].Subcommands != nil {
					t.Errorf("%s|%s: a subcommand with subcommands", name, sub)
				}
			}
		}
	}
}

func checkCommand(t *testing.T, c *Command, rc *redisCommand) {
	t.Helper()
	name := c.FullName
	if c.Arity != rc.Arity {
		t.Errorf("%s: arity %d, Redis %d", name, c.Arity, rc.Arity)
	}
	var flags Flag
	for _, f := range rc.Flags {
		bit, ok := jsonFlags[f]
		if !ok {
			t.Errorf("%s: Redis flag %s is not modelled", name, f)
		}
		flags |= bit
	}
	if c.Flags != flags {
		t.Errorf("%s: flags %q, Redis %q", name, c.Flags.Names(), rc.Flags)
	}
	if wantACL := redisACL(rc); !slices.Equal(c.ACL, wantACL) {
		t.Errorf("%s: ACL categories %q, Redis %q", name, c.ACL, wantACL)
	}
	var tips []string
	for _, tip := range rc.Tips {
		tips = append(tips, strings.ToLower(tip))
	}
	if !slices.Equal(c.Tips, tips) {
		t.Errorf("%s: tips %q, Redis %q", name, c.Tips, tips)
	}
	if c.Group != rc.Group || c.Since != rc.Since {
		t.Errorf("%s: group %q since %q, Redis %q %q", name, c.Group, c.Since, rc.Group, rc.Since)
	}
	var docFlags []string
	for _, f := range rc.DocFlags {
		docFlags = append(docFlags, strings.ToLower(f))
	}
	if !slices.Equal(c.DocFlags, docFlags) || c.DeprecatedSince != rc.DeprecatedSince {
		t.Errorf("%s: doc flags %q deprecated since %q, Redis %q %q", name, c.DocFlags, c.DeprecatedSince, docFlags, rc.DeprecatedSince)
	}
	if (c.DeprecatedSince == "") != (c.ReplacedBy == "") {
		t.Errorf("%s: deprecated without a replacement, or the reverse", name)
	}
	if c.Summary == "" || c.Summary == rc.Summary {
		t.Errorf("%s: the summary must be raftcache's own words, not empty or Redis's", name)
	}

	// Key specs, one for one, then the legacy range derived from them.
	if len(c.KeySpecs) != len(rc.KeySpecs) {
		t.Errorf("%s: %d key specs, Redis %d", name, len(c.KeySpecs), len(rc.KeySpecs))
		return
	}
	for i, ks := range rc.KeySpecs {
		if ks.BeginSearch.Index == nil || ks.FindKeys.Range == nil {
			t.Errorf("%s: key spec %d is not index+range, which KeySpec cannot describe", name, i)
			continue
		}
		var kf KeyFlag
		for _, f := range ks.Flags {
			kf |= jsonKeyFlags[f]
		}
		want := KeySpec{Flags: kf, Index: ks.BeginSearch.Index.Pos, LastKey: ks.FindKeys.Range.LastKey,
			Step: ks.FindKeys.Range.Step, Limit: ks.FindKeys.Range.Limit, Notes: c.KeySpecs[i].Notes}
		if c.KeySpecs[i] != want {
			t.Errorf("%s: key spec %d is %+v, Redis %+v", name, i, c.KeySpecs[i], want)
		}
		if (ks.Notes == "") != (c.KeySpecs[i].Notes == "") {
			t.Errorf("%s: key spec %d has notes %q, Redis has notes: %v", name, i, c.KeySpecs[i].Notes, ks.Notes != "")
		}
	}
	first, last, step, movable := redisLegacyRange(rc)
	if movable {
		t.Errorf("%s: Redis reports movablekeys, which the table does not model", name)
	}
	if c.FirstKey != first || c.LastKey != last || c.Step != step {
		t.Errorf("%s: key positions %d,%d,%d, Redis %d,%d,%d", name, c.FirstKey, c.LastKey, c.Step, first, last, step)
	}
}

// redisContainers returns the names of Redis's container commands: those
// that some file names as its container.
func redisContainers(t *testing.T) map[string]bool {
	files, err := filepath.Glob(filepath.Join(redisCommandsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JSON files in %s: %v", redisCommandsDir, err)
	}
	out := map[string]bool{}
	for _, f := range files {
		if c := loadRedisCommand(t, filepath.Base(f)); c.Container != "" {
			out[strings.ToLower(c.Container)] = true
		}
	}
	return out
}

// redisACL computes COMMAND INFO's categories as Redis's
// setImplicitACLCategories does, in the order of Redis's category table.
func redisACL(rc *redisCommand) []string {
	has := map[string]bool{}
	for _, a := range rc.ACL {
		has[strings.ToLower(a)] = true
	}
	for _, f := range rc.Flags {
		switch f {
		case "WRITE":
			has["write"] = true
		case "READONLY":
			if !has["scripting"] {
				has["read"] = true
			}
		case "ADMIN":
			has["admin"], has["dangerous"] = true, true
		case "PUBSUB":
			has["pubsub"] = true
		case "FAST":
			has["fast"] = true
		case "BLOCKING":
			has["blocking"] = true
		}
	}
	if !has["fast"] {
		has["slow"] = true
	}
	order := strings.Fields(`keyspace read write set sortedset list hash string bitmap hyperloglog geo
		stream pubsub admin fast slow blocking dangerous connection transaction scripting`)
	var out []string
	for _, cat := range order {
		if has[cat] {
			out = append(out, cat)
		}
	}
	return out
}

// redisLegacyRange derives COMMAND INFO's first key, last key and step, and
// the movablekeys flag, as Redis's populateCommandLegacyRangeSpec does.
func redisLegacyRange(rc *redisCommand) (first, last, step int, movable bool) {
	abs := func(pos, lastKey int) int {
		if lastKey < 0 {
			return lastKey
		}
		return pos + lastKey
	}
	specs := rc.KeySpecs
	if len(specs) == 0 {
		return 0, 0, 0, false
	}
	if len(specs) == 1 && specs[0].BeginSearch.Index != nil && specs[0].FindKeys.Range != nil {
		r := specs[0].FindKeys.Range
		return specs[0].BeginSearch.Index.Pos, abs(specs[0].BeginSearch.Index.Pos, r.LastKey), r.Step,
			slices.Contains(specs[0].Flags, "INCOMPLETE")
	}
	first, prev := -1, 0
	for _, s := range specs {
		if s.BeginSearch.Index == nil || s.FindKeys.Range == nil {
			movable = true
			continue
		}
		pos, r := s.BeginSearch.Index.Pos, s.FindKeys.Range
		if r.Step != 1 || (prev != 0 && prev != pos-1) {
			movable = true
			continue
		}
		if slices.Contains(s.Flags, "INCOMPLETE") {
			movable = true
		}
		if first < 0 || pos < first {
			first = pos
		}
		if l := abs(pos, r.LastKey); uint(l) > uint(last) {
			last = l
		}
		prev = last
	}
	if first < 0 {
		return 0, 0, 0, true
	}
	return first, last, 1, movable
}
