package resp

// The server, connection, transaction and cluster part of the command
// table; see table.go.

// serverCommands are the server commands (Redis group "server").
var serverCommands = []*Command{
	{
		Name: "acl", Arity: -2, Flags: FlagSentinel,
		Since: "6.0.0", Summary: "Groups the commands about ACL users.",
		Subcommands: map[string]*Command{
			"cat": {
				Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Lists the ACL categories, or the commands in one.",
			},
			"deluser": {
				Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "6.0.0", Summary: "Deletes users and closes their connections.",
			},
			"dryrun": {
				Arity: -4, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "7.0.0", Summary: "Tells whether a user may run a command, without running it.",
			},
			"genpass": {
				Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Generates a random password.",
			},
			"getuser": {
				Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Describes a user's rules.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Lists the ACL subcommands.",
			},
			"list": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Lists every user's rules as aclfile lines.",
			},
			"load": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Replaces the users with those of the aclfile.",
			},
			"log": {
				Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Lists or clears the recent permission denials.",
			},
			"save": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "6.0.0", Summary: "Writes the users to the aclfile.",
			},
			"setuser": {
				Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "6.0.0", Summary: "Creates or changes a user.",
			},
			"users": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Lists the user names.",
			},
			"whoami": {
				Arity: 2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				Since: "6.0.0", Summary: "Answers the connection's user name.",
			},
		},
	},
	{
		Name: "bgsave", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagNoAsyncLoading,
		Since: "1.0.0", Summary: "Starts a snapshot of the data in the background.",
	},
	{
		Name: "command", Arity: -1, Flags: FlagLoading | FlagStale | FlagSentinel,
		ACL:   []string{"connection"},
		Tips:  []string{"nondeterministic_output_order"},
		Since: "2.8.13", Summary: "Describes the commands the server serves.",
		Subcommands: map[string]*Command{
			"count": {
				Arity: 2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "2.8.13", Summary: "Counts the commands the server serves.",
			},
			"docs": {
				Arity: -2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"nondeterministic_output_order"},
				Since: "7.0.0", Summary: "Answers the documentation of commands.",
			},
			"getkeys": {
				Arity: -3, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "2.8.13", Summary: "Finds the keys in a full command line.",
			},
			"getkeysandflags": {
				Arity: -3, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "7.0.0", Summary: "Finds the keys in a full command line, with how each is used.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "5.0.0", Summary: "Lists the COMMAND subcommands.",
			},
			"info": {
				Arity: -2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"nondeterministic_output_order"},
				Since: "2.8.13", Summary: "Answers the table entries of commands.",
			},
			"list": {
				Arity: -2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"nondeterministic_output_order"},
				Since: "7.0.0", Summary: "Lists command names, optionally filtered.",
			},
		},
	},
	{
		Name: "config", Arity: -2,
		Since: "2.0.0", Summary: "Groups the configuration commands.",
		Subcommands: map[string]*Command{
			"get": {
				Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Since: "2.0.0", Summary: "Reads configuration parameters.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Since: "5.0.0", Summary: "Lists the CONFIG subcommands.",
			},
			"resetstat": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "2.0.0", Summary: "Zeroes the server statistics.",
			},
			"rewrite": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "2.8.0", Summary: "Writes the running configuration back to its file.",
			},
			"set": {
				Arity: -4, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "2.0.0", Summary: "Changes configuration parameters.",
			},
		},
	},
	{
		Name: "dbsize", Arity: 1, Flags: FlagReadOnly | FlagFast,
		ACL:   []string{"keyspace"},
		Tips:  []string{"request_policy:all_shards", "response_policy:agg_sum"},
		Since: "1.0.0", Summary: "Counts the keys in the database.",
	},
	{
		Name: "debug", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagProtected,
		DocFlags: []string{"syscmd"},
		Since:    "1.0.0", Summary: "Runs debugging and testing helpers.",
	},
	{
		Name: "flushall", Arity: -1, Flags: FlagWrite,
		ACL:   []string{"keyspace", "dangerous"},
		Tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
		Since: "1.0.0", Summary: "Removes the keys of every database.",
	},
	{
		Name: "flushdb", Arity: -1, Flags: FlagWrite,
		ACL:   []string{"keyspace", "dangerous"},
		Tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
		Since: "1.0.0", Summary: "Removes the keys of the current database.",
	},
	{
		Name: "info", Arity: -1, Flags: FlagLoading | FlagStale | FlagSentinel,
		ACL:   []string{"dangerous"},
		Tips:  []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
		Since: "1.0.0", Summary: "Reports server information and statistics.",
	},
	{
		Name: "lastsave", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
		ACL:   []string{"admin", "dangerous"},
		Tips:  []string{"nondeterministic_output"},
		Since: "1.0.0", Summary: "Answers the Unix time of the last successful snapshot.",
	},
	{
		Name: "latency", Arity: -2,
		Since: "2.8.13", Summary: "Groups the latency monitoring commands.",
		Subcommands: map[string]*Command{
			"doctor": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"nondeterministic_output", "request_policy:all_nodes", "response_policy:special"},
				Since: "2.8.13", Summary: "Explains the latency spikes the monitor recorded, with advice.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Since: "2.8.13", Summary: "Lists the LATENCY subcommands.",
			},
			"histogram": {
				Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"nondeterministic_output", "request_policy:all_nodes", "response_policy:special"},
				Since: "7.0.0", Summary: "Answers each command's calls and cumulative latency distribution.",
			},
			"history": {
				Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"nondeterministic_output", "request_policy:all_nodes", "response_policy:special"},
				Since: "2.8.13", Summary: "Answers the recorded spikes of one event class, oldest first.",
			},
			"latest": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"nondeterministic_output", "request_policy:all_nodes", "response_policy:special"},
				Since: "2.8.13", Summary: "Answers the newest and worst spike of every event class.",
			},
			"reset": {
				Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:agg_sum"},
				Since: "2.8.13", Summary: "Forgets the spikes of some or all event classes.",
			},
		},
	},
	{
		Name: "memory", Arity: -2,
		Since: "4.0.0", Summary: "Groups the memory diagnostics commands.",
		Subcommands: map[string]*Command{
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Since: "4.0.0", Summary: "Lists the MEMORY subcommands.",
			},
			"usage": {
				Arity: -3, Flags: FlagReadOnly,
				KeySpecs: key(2, KeyRO),
				Since:    "4.0.0", Summary: "Estimates the bytes a key and its value take.",
			},
			"stats": {
				Arity: 2,
				Tips:  []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
				Since: "4.0.0", Summary: "Reports the memory use of the server by part.",
			},
			"doctor": {
				Arity: 2,
				Tips:  []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
				Since: "4.0.0", Summary: "Reports memory problems.",
			},
			"malloc-stats": {
				Arity: 2,
				Tips:  []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
				Since: "4.0.0", Summary: "Reports the allocator's statistics.",
			},
			"purge": {
				Arity: 2,
				Tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
				Since: "4.0.0", Summary: "Hands free memory back to the operating system.",
			},
		},
	},
	{
		Name: "role", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagSentinel,
		ACL:   []string{"admin", "dangerous"},
		Since: "2.8.12", Summary: "Answers the replication role of the server.",
	},
	{
		Name: "save", Arity: 1, Flags: FlagAdmin | FlagNoScript | FlagNoAsyncLoading | FlagNoMulti,
		Since: "1.0.0", Summary: "Takes a snapshot of the data and waits for it.",
	},
	{
		Name: "shutdown", Arity: -1, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel | FlagNoMulti | FlagAllowBusy,
		Since: "1.0.0", Summary: "Stops the server.",
	},
	{
		Name: "slowlog", Arity: -2,
		Since: "2.2.12", Summary: "Groups the slow log commands.",
		Subcommands: map[string]*Command{
			"get": {
				Arity: -2, Flags: FlagAdmin | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "nondeterministic_output"},
				Since: "2.2.12", Summary: "Answers entries of the slow log.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Since: "6.2.0", Summary: "Lists the SLOWLOG subcommands.",
			},
			"len": {
				Arity: 2, Flags: FlagAdmin | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"},
				Since: "2.2.12", Summary: "Counts the entries of the slow log.",
			},
			"reset": {
				Arity: 2, Flags: FlagAdmin | FlagLoading | FlagStale,
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "2.2.12", Summary: "Empties the slow log.",
			},
		},
	},
	{
		Name: "swapdb", Arity: 3, Flags: FlagWrite | FlagFast,
		ACL:   []string{"keyspace", "dangerous"},
		Since: "4.0.0", Summary: "Exchanges the contents of two databases.",
	},
	{
		Name: "time", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
		Tips:  []string{"nondeterministic_output"},
		Since: "2.6.0", Summary: "Answers the server's clock.",
	},
}

// connectionCommands are the connection commands (Redis group "connection").
var connectionCommands = []*Command{
	{
		Name: "auth", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagSentinel | FlagAllowBusy,
		ACL:   []string{"connection"},
		Since: "1.0.0", Summary: "Logs the connection in as a user.",
	},
	{
		Name: "client", Arity: -2, Flags: FlagSentinel,
		Since: "2.4.0", Summary: "Groups the commands about client connections.",
		Subcommands: map[string]*Command{
			"getname": {
				Arity: 2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "2.6.9", Summary: "Answers the name given to the connection.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "5.0.0", Summary: "Lists the CLIENT subcommands.",
			},
			"id": {
				Arity: 2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "5.0.0", Summary: "Answers the id of the connection.",
			},
			"info": {
				Arity: 2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"nondeterministic_output"},
				Since: "6.2.0", Summary: "Describes the current connection.",
			},
			"kill": {
				Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "2.4.0", Summary: "Closes client connections.",
			},
			"list": {
				Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"nondeterministic_output"},
				Since: "2.4.0", Summary: "Describes the open client connections.",
			},
			"no-evict": {
				Arity: 3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "7.0.0", Summary: "Sets whether the connection may be evicted.",
			},
			"no-touch": {
				Arity: 3, Flags: FlagNoScript | FlagLoading | FlagStale,
				ACL:   []string{"connection"},
				Since: "7.2.0", Summary: "Sets whether the connection's commands count as key accesses.",
			},
			"pause": {
				Arity: -3, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "3.0.0", Summary: "Holds back commands from clients for a while.",
			},
			"reply": {
				Arity: 3, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "3.2.0", Summary: "Turns the connection's replies on or off.",
			},
			"setinfo": {
				Arity: 4, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "7.2.0", Summary: "Records the client library's name or version.",
			},
			"setname": {
				Arity: 3, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Tips:  []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				Since: "2.6.9", Summary: "Names the connection.",
			},
			"unpause": {
				Arity: 2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale | FlagSentinel,
				ACL:   []string{"connection"},
				Since: "6.2.0", Summary: "Releases the commands held back by CLIENT PAUSE.",
			},
		},
	},
	{
		Name: "echo", Arity: 2, Flags: FlagLoading | FlagStale | FlagFast,
		ACL:   []string{"connection"},
		Since: "1.0.0", Summary: "Answers its argument.",
	},
	{
		Name: "hello", Arity: -1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagSentinel | FlagAllowBusy,
		ACL:   []string{"connection"},
		Since: "6.0.0", Summary: "Opens a session, choosing the protocol version.",
	},
	{
		Name: "ping", Arity: -1, Flags: FlagFast | FlagSentinel,
		ACL:   []string{"connection"},
		Tips:  []string{"request_policy:all_shards", "response_policy:all_succeeded"},
		Since: "1.0.0", Summary: "Checks that the server answers.",
	},
	{
		Name: "quit", Arity: -1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy,
		ACL:      []string{"connection"},
		DocFlags: []string{"deprecated"}, DeprecatedSince: "7.2.0", ReplacedBy: "closing the connection",
		Since: "1.0.0", Summary: "Ends the connection after the reply.",
	},
	{
		Name: "reset", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagNoAuth | FlagAllowBusy,
		ACL:   []string{"connection"},
		Since: "6.2.0", Summary: "Puts the connection back in its initial state.",
	},
	{
		Name: "select", Arity: 2, Flags: FlagLoading | FlagStale | FlagFast,
		ACL:   []string{"connection"},
		Since: "1.0.0", Summary: "Changes the current database.",
	},
}

// transactionCommands are the transaction commands (Redis group "transactions").
var transactionCommands = []*Command{
	{
		Name: "discard", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy,
		ACL:   []string{"transaction"},
		Since: "2.0.0", Summary: "Abandons a transaction.",
	},
	{
		Name: "exec", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagSkipSlowlog,
		ACL:   []string{"transaction"},
		Since: "1.2.0", Summary: "Runs the commands queued in a transaction.",
	},
	{
		Name: "multi", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy,
		ACL:   []string{"transaction"},
		Since: "1.2.0", Summary: "Opens a transaction.",
	},
	{
		Name: "unwatch", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy,
		ACL:   []string{"transaction"},
		Since: "2.2.0", Summary: "Forgets every watched key.",
	},
	{
		Name: "watch", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast | FlagAllowBusy,
		ACL: []string{"transaction"}, KeySpecs: keysToEnd(1, KeyRO),
		Since: "2.2.0", Summary: "Watches keys so that a transaction aborts if they change.",
	},
}

// clusterCommands are the cluster commands (Redis group "cluster").
var clusterCommands = []*Command{
	{
		Name: "asking", Arity: 1, Flags: FlagFast,
		ACL:   []string{"connection"},
		Since: "3.0.0", Summary: "Lets the next command reach a slot being imported.",
	},
	{
		Name: "cluster", Arity: -2,
		Since: "3.0.0", Summary: "Groups the cluster commands.",
		Subcommands: map[string]*Command{
			"countkeysinslot": {
				Arity: 3, Flags: FlagStale,
				Since: "3.0.0", Summary: "Counts the keys in a hash slot.",
			},
			"forget": {
				Arity: 3, Flags: FlagAdmin | FlagStale | FlagNoAsyncLoading,
				Since: "3.0.0", Summary: "Drops a node from this node's table.",
			},
			"getkeysinslot": {
				Arity: 4, Flags: FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "3.0.0", Summary: "Lists keys in a hash slot.",
			},
			"help": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Since: "5.0.0", Summary: "Lists the CLUSTER subcommands.",
			},
			"info": {
				Arity: 2, Flags: FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "3.0.0", Summary: "Reports the state of the cluster.",
			},
			"keyslot": {
				Arity: 3, Flags: FlagStale,
				Since: "3.0.0", Summary: "Answers the hash slot of a key.",
			},
			"links": {
				Arity: 2, Flags: FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "7.0.0", Summary: "Describes the links to other nodes.",
			},
			"meet": {
				Arity: -4, Flags: FlagAdmin | FlagStale | FlagNoAsyncLoading,
				Since: "3.0.0", Summary: "Joins a node to the cluster.",
			},
			"myid": {
				Arity: 2, Flags: FlagStale,
				Since: "3.0.0", Summary: "Answers this node's id.",
			},
			"myshardid": {
				Arity: 2, Flags: FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "7.2.0", Summary: "Answers the id of this node's shard.",
			},
			"nodes": {
				Arity: 2, Flags: FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "3.0.0", Summary: "Describes the nodes of the cluster.",
			},
			"reset": {
				Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagStale,
				Since: "3.0.0", Summary: "Resets this node's cluster state.",
			},
			"shards": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Tips:  []string{"nondeterministic_output"},
				Since: "7.0.0", Summary: "Describes the shards of the cluster.",
			},
			"slots": {
				Arity: 2, Flags: FlagLoading | FlagStale,
				Tips:     []string{"nondeterministic_output"},
				DocFlags: []string{"deprecated"}, DeprecatedSince: "7.0.0", ReplacedBy: "CLUSTER SHARDS",
				Since: "3.0.0", Summary: "Maps hash slots to nodes.",
			},
		},
	},
	{
		Name: "readonly", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
		ACL:   []string{"connection"},
		Since: "3.0.0", Summary: "Lets the connection read from replicas.",
	},
	{
		Name: "readwrite", Arity: 1, Flags: FlagLoading | FlagStale | FlagFast,
		ACL:   []string{"connection"},
		Since: "3.0.0", Summary: "Stops the connection reading from replicas.",
	},
}
