package resp

// The command table: every command raftcache serves, with the facts Redis
// 7.2 reports for it (arity, flags, key specs, ACL categories, tips, group,
// version, deprecation), so that a client reading COMMAND INFO or COMMAND
// DOCS sees what Redis 7.2 would show it. The summaries are raftcache's own
// words. table_test.go checks the facts against Redis's own metadata.
//
// Each entry names only its explicit ACL categories; Register adds the ones
// Redis implies from the flags, and derives the legacy first/last/step key
// positions from the key specs.

func init() {
	for _, family := range []struct {
		group    string
		commands []*Command
	}{
		{"string", stringCommands},
		{"hash", hashCommands},
		{"generic", genericCommands},
		{"server", serverCommands},
		{"connection", connectionCommands},
		{"transactions", transactionCommands},
		{"cluster", clusterCommands},
	} {
		for _, c := range family.commands {
			c.Group = family.group
			Register(c)
		}
	}
}

// key is the key spec of a command whose one key is argument i.
func key(i int, f KeyFlag) []KeySpec {
	return []KeySpec{{Flags: f, Index: i, Step: 1}}
}

// keysToEnd is the key spec of a command whose arguments are all keys
// (step 1) or key-value pairs (step 2).
func keysToEnd(step int, f KeyFlag) []KeySpec {
	return []KeySpec{{Flags: f, Index: 1, LastKey: -1, Step: step}}
}

// stringCommands are the string commands (Redis group "string").
var stringCommands = []*Command{
	{
		Name: "append", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyInsert),
		Since: "2.0.0", Summary: "Appends a string to the value of a key, creating the key if needed.",
	},
	{
		Name: "decr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "1.0.0", Summary: "Subtracts one from the integer stored at a key.",
	},
	{
		Name: "decrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "1.0.0", Summary: "Subtracts an amount from the integer stored at a key.",
	},
	{
		Name: "get", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "1.0.0", Summary: "Reads the string stored at a key.",
	},
	{
		Name: "getdel", Arity: 2, Flags: FlagWrite | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyDelete),
		Since: "6.2.0", Summary: "Reads a string key and removes it.",
	},
	{
		Name: "getex", Arity: -2, Flags: FlagWrite | FlagFast,
		ACL: []string{"string"},
		KeySpecs: []KeySpec{
			{Flags: KeyRW | KeyAccess | KeyUpdate, Index: 1, Step: 1,
				Notes: "a write because it changes the expiry"},
		},
		Since: "6.2.0", Summary: "Reads a string key and changes or clears its expiry.",
	},
	{
		Name: "getrange", Arity: 4, Flags: FlagReadOnly,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "2.4.0", Summary: "Reads a byte range of a string value.",
	},
	{
		Name: "getset", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "6.2.0", ReplacedBy: "SET with the GET option",
		Since: "1.0.0", Summary: "Stores a new string and answers the old one.",
	},
	{
		Name: "incr", Arity: 2, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "1.0.0", Summary: "Adds one to the integer stored at a key.",
	},
	{
		Name: "incrby", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "1.0.0", Summary: "Adds an amount to the integer stored at a key.",
	},
	{
		Name: "incrbyfloat", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "2.6.0", Summary: "Adds a decimal amount to the number stored at a key.",
	},
	{
		Name: "lcs", Arity: -3, Flags: FlagReadOnly,
		ACL: []string{"string"},
		KeySpecs: []KeySpec{
			{Flags: KeyRO | KeyAccess, Index: 1, LastKey: 1, Step: 1},
		},
		Since: "7.0.0", Summary: "Finds the longest common subsequence of two strings.",
	},
	{
		Name: "mget", Arity: -2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"string"}, KeySpecs: keysToEnd(1, KeyRO|KeyAccess),
		Tips:  []string{"request_policy:multi_shard"},
		Since: "1.0.0", Summary: "Reads the strings stored at several keys.",
	},
	{
		Name: "mset", Arity: -3, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"}, KeySpecs: keysToEnd(2, KeyOW|KeyUpdate),
		Tips:  []string{"request_policy:multi_shard", "response_policy:all_succeeded"},
		Since: "1.0.1", Summary: "Stores several key-value pairs at once.",
	},
	{
		Name: "msetnx", Arity: -3, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"}, KeySpecs: keysToEnd(2, KeyOW|KeyInsert),
		Since: "1.0.1", Summary: "Stores several key-value pairs only if none of the keys exists.",
	},
	{
		Name: "psetex", Arity: 4, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"}, KeySpecs: key(1, KeyOW|KeyUpdate),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "2.6.12", ReplacedBy: "SET with the PX option",
		Since: "2.6.0", Summary: "Stores a string with a time to live in milliseconds.",
	},
	{
		Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"},
		KeySpecs: []KeySpec{
			{Flags: KeyRW | KeyAccess | KeyUpdate | KeyVariableFlags, Index: 1, Step: 1,
				Notes: "reads the old value only with the GET option"},
		},
		Since: "1.0.0", Summary: "Stores a string, with optional expiry and conditions.",
	},
	{
		Name: "setex", Arity: 4, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"}, KeySpecs: key(1, KeyOW|KeyUpdate),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "2.6.12", ReplacedBy: "SET with the EX option",
		Since: "2.0.0", Summary: "Stores a string with a time to live in seconds.",
	},
	{
		Name: "setnx", Arity: 3, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyOW|KeyInsert),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "2.6.12", ReplacedBy: "SET with the NX option",
		Since: "1.0.0", Summary: "Stores a string only if the key is absent.",
	},
	{
		Name: "setrange", Arity: 4, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "2.2.0", Summary: "Overwrites part of a string at a byte offset.",
	},
	{
		Name: "strlen", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRO),
		Since: "2.2.0", Summary: "Counts the bytes of a string value.",
	},
	{
		Name: "substr", Arity: 4, Flags: FlagReadOnly,
		ACL: []string{"string"}, KeySpecs: key(1, KeyRO|KeyAccess),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "2.0.0", ReplacedBy: "GETRANGE",
		Since: "1.0.0", Summary: "Reads a byte range of a string value (the old GETRANGE).",
	},
}

// hashCommands are the hash commands (Redis group "hash").
var hashCommands = []*Command{
	{
		Name: "hdel", Arity: -3, Flags: FlagWrite | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyDelete),
		Since: "2.0.0", Summary: "Removes fields from a hash.",
	},
	{
		Name: "hexists", Arity: 3, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO),
		Since: "2.0.0", Summary: "Tells whether a hash has a field.",
	},
	{
		Name: "hget", Arity: 3, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "2.0.0", Summary: "Reads one field of a hash.",
	},
	{
		Name: "hgetall", Arity: 2, Flags: FlagReadOnly,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output_order"},
		Since: "2.0.0", Summary: "Reads every field and value of a hash.",
	},
	{
		Name: "hincrby", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "2.0.0", Summary: "Adds an integer amount to a hash field.",
	},
	{
		Name: "hincrbyfloat", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyAccess|KeyUpdate),
		Since: "2.6.0", Summary: "Adds a decimal amount to a hash field.",
	},
	{
		Name: "hkeys", Arity: 2, Flags: FlagReadOnly,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output_order"},
		Since: "2.0.0", Summary: "Lists the field names of a hash.",
	},
	{
		Name: "hlen", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO),
		Since: "2.0.0", Summary: "Counts the fields of a hash.",
	},
	{
		Name: "hmget", Arity: -3, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "2.0.0", Summary: "Reads several fields of a hash.",
	},
	{
		Name: "hmset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		DocFlags: []string{"deprecated"}, DeprecatedSince: "4.0.0", ReplacedBy: "HSET with several fields",
		Since: "2.0.0", Summary: "Stores several hash fields (the old HSET).",
	},
	{
		Name: "hrandfield", Arity: -2, Flags: FlagReadOnly,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output"},
		Since: "6.2.0", Summary: "Picks random fields of a hash.",
	},
	{
		Name: "hscan", Arity: -3, Flags: FlagReadOnly,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output"},
		Since: "2.8.0", Summary: "Walks the fields of a hash with a cursor.",
	},
	{
		Name: "hset", Arity: -4, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "2.0.0", Summary: "Stores one or more hash fields.",
	},
	{
		Name: "hsetnx", Arity: 4, Flags: FlagWrite | FlagDenyOOM | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRW|KeyInsert),
		Since: "2.0.0", Summary: "Stores a hash field only if it is absent.",
	},
	{
		Name: "hstrlen", Arity: 3, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO),
		Since: "3.2.0", Summary: "Counts the bytes of a hash field's value.",
	},
	{
		Name: "hvals", Arity: 2, Flags: FlagReadOnly,
		ACL: []string{"hash"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output_order"},
		Since: "2.0.0", Summary: "Lists the values of a hash.",
	},
}

// genericCommands are the keyspace and expiry commands (Redis group "generic").
var genericCommands = []*Command{
	{
		Name: "copy", Arity: -3, Flags: FlagWrite | FlagDenyOOM,
		ACL: []string{"keyspace"},
		KeySpecs: []KeySpec{
			{Flags: KeyRO | KeyAccess, Index: 1, Step: 1},
			{Flags: KeyOW | KeyUpdate, Index: 2, Step: 1},
		},
		Since: "6.2.0", Summary: "Duplicates a key's value under a second name.",
	},
	{
		Name: "del", Arity: -2, Flags: FlagWrite,
		ACL: []string{"keyspace"}, KeySpecs: keysToEnd(1, KeyRM|KeyDelete),
		Tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
		Since: "1.0.0", Summary: "Removes keys.",
	},
	{
		Name: "exists", Arity: -2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: keysToEnd(1, KeyRO),
		Tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
		Since: "1.0.0", Summary: "Counts how many of the given keys exist.",
	},
	{
		Name: "expire", Arity: -3, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "1.0.0", Summary: "Gives a key a time to live in seconds.",
	},
	{
		Name: "expireat", Arity: -3, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "1.2.0", Summary: "Makes a key expire at a Unix time in seconds.",
	},
	{
		Name: "expiretime", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "7.0.0", Summary: "Answers when a key expires, as a Unix time in seconds.",
	},
	{
		Name: "keys", Arity: 2, Flags: FlagReadOnly,
		ACL:   []string{"keyspace", "dangerous"},
		Tips:  []string{"request_policy:all_shards", "nondeterministic_output_order"},
		Since: "1.0.0", Summary: "Lists the keys that match a glob pattern.",
	},
	{
		Name: "object", Arity: -2,
		Since: "2.2.3", Summary: "Groups the commands that inspect stored values.",
		Subcommands: map[string]*Command{
			"encoding": {
				Arity: 3, Flags: FlagReadOnly,
				ACL: []string{"keyspace"}, KeySpecs: key(2, KeyRO),
				Tips:  []string{"nondeterministic_output"},
				Since: "2.2.3", Summary: "Names the internal encoding of a key's value.",
			},
			"freq": {
				Arity: 3, Flags: FlagReadOnly,
				ACL: []string{"keyspace"}, KeySpecs: key(2, KeyRO),
				Tips:  []string{"nondeterministic_output"},
				Since: "4.0.0", Summary: "Answers the LFU access counter of a key.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				ACL:   []string{"keyspace"},
				Since: "6.2.0", Summary: "Lists the OBJECT subcommands.",
			},
			"idletime": {
				Arity: 3, Flags: FlagReadOnly,
				ACL: []string{"keyspace"}, KeySpecs: key(2, KeyRO),
				Tips:  []string{"nondeterministic_output"},
				Since: "2.2.3", Summary: "Answers the seconds since a key was last used.",
			},
			"refcount": {
				Arity: 3, Flags: FlagReadOnly,
				ACL: []string{"keyspace"}, KeySpecs: key(2, KeyRO),
				Tips:  []string{"nondeterministic_output"},
				Since: "2.2.3", Summary: "Answers how many references share a key's value.",
			},
		},
	},
	{
		Name: "persist", Arity: 2, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "2.2.0", Summary: "Clears the expiry of a key.",
	},
	{
		Name: "pexpire", Arity: -3, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "2.6.0", Summary: "Gives a key a time to live in milliseconds.",
	},
	{
		Name: "pexpireat", Arity: -3, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRW|KeyUpdate),
		Since: "2.6.0", Summary: "Makes a key expire at a Unix time in milliseconds.",
	},
	{
		Name: "pexpiretime", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Since: "7.0.0", Summary: "Answers when a key expires, as a Unix time in milliseconds.",
	},
	{
		Name: "pttl", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output"},
		Since: "2.6.0", Summary: "Answers the time a key has left to live, in milliseconds.",
	},
	{
		Name: "randomkey", Arity: 1, Flags: FlagReadOnly | FlagTouchesArbitraryKeys,
		ACL:   []string{"keyspace"},
		Tips:  []string{"request_policy:all_shards", "response_policy:special", "nondeterministic_output"},
		Since: "1.0.0", Summary: "Answers the name of a random key.",
	},
	{
		Name: "rename", Arity: 3, Flags: FlagWrite,
		ACL: []string{"keyspace"},
		KeySpecs: []KeySpec{
			{Flags: KeyRW | KeyAccess | KeyDelete, Index: 1, Step: 1},
			{Flags: KeyOW | KeyUpdate, Index: 2, Step: 1},
		},
		Since: "1.0.0", Summary: "Renames a key, replacing any key with the new name.",
	},
	{
		Name: "renamenx", Arity: 3, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"},
		KeySpecs: []KeySpec{
			{Flags: KeyRW | KeyAccess | KeyDelete, Index: 1, Step: 1},
			{Flags: KeyOW | KeyInsert, Index: 2, Step: 1},
		},
		Since: "1.0.0", Summary: "Renames a key only if the new name is free.",
	},
	{
		Name: "scan", Arity: -2, Flags: FlagReadOnly | FlagTouchesArbitraryKeys,
		ACL:   []string{"keyspace"},
		Tips:  []string{"nondeterministic_output", "request_policy:special", "response_policy:special"},
		Since: "2.8.0", Summary: "Walks the keyspace with a cursor.",
	},
	{
		Name: "touch", Arity: -2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: keysToEnd(1, KeyRO),
		Tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
		Since: "3.2.1", Summary: "Counts the given keys that exist and marks them as used.",
	},
	{
		Name: "ttl", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRO|KeyAccess),
		Tips:  []string{"nondeterministic_output"},
		Since: "1.0.0", Summary: "Answers the time a key has left to live, in seconds.",
	},
	{
		Name: "type", Arity: 2, Flags: FlagReadOnly | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: key(1, KeyRO),
		Since: "1.0.0", Summary: "Tells which data type a key holds.",
	},
	{
		Name: "unlink", Arity: -2, Flags: FlagWrite | FlagFast,
		ACL: []string{"keyspace"}, KeySpecs: keysToEnd(1, KeyRM|KeyDelete),
		Tips:  []string{"request_policy:multi_shard", "response_policy:agg_sum"},
		Since: "4.0.0", Summary: "Removes keys, freeing their memory later.",
	},
	{
		Name: "wait", Arity: 3,
		ACL:   []string{"connection"},
		Tips:  []string{"request_policy:all_shards", "response_policy:agg_min"},
		Since: "3.0.0", Summary: "Waits until earlier writes have reached some replicas.",
	},
}
