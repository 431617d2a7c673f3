package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// memSample is the resident memory of one server after the load.
type memSample struct {
	vmRSS, rssAnon, rssFile int64 // bytes, from /proc/PID/status, once settled
	afterLoad               int64 // VmRSS right after the last reply
	usedMemory              int64 // INFO memory's used_memory once settled; -1 unknown
	logDisk                 int64 // raftcache: its Raft log's files on disk (INFO raft_log_disk_bytes); -1 unknown
	settled                 bool  // VmRSS stopped moving before settleLimit
	load                    time.Duration
	err                     string
}

// memoryResult is the memory comparison of one data set.
type memoryResult struct {
	data             dataset
	streams          int // concurrent redis-cli --pipe
	redis, raftcache memSample
}

// dataset is what a memory comparison loads: keys strings of valueSize
// bytes, or, with fields set, keys hashes of that many fields whose
// values are 10 to 30 bytes.
type dataset struct {
	keys, valueSize, fields int
}

// String names the data set in the report.
func (d dataset) String() string {
	if d.fields > 0 {
		return fmt.Sprintf("%s hashes of %d fields of 10-30 bytes", count(d.keys), d.fields)
	}
	return fmt.Sprintf("%s keys of %d bytes", count(d.keys), d.valueSize)
}

// writeCommands writes the commands that load keys [from, to).
func (d dataset) writeCommands(w io.Writer, from, to int) error {
	if d.fields > 0 {
		return writeHashCommands(w, from, to, d.fields)
	}
	return writeSetCommands(w, from, to, d.valueSize)
}

// compareMemory loads the same data into a fresh redis-server (no
// persistence) and a fresh one-node raftcache, one after the other, and
// reads each one's resident memory.
func (h *harness) compareMemory(ctx context.Context, d dataset) *memoryResult {
	m := &memoryResult{data: d, streams: min(h.cfg.loadStreams, d.keys)}
	h.logf("memory: loading %s into redis-server", d)
	name := "mem-strings"
	if d.fields > 0 {
		name = "mem-hashes"
	}
	p, addr, err := h.startRedis(ctx, name+"-redis")
	m.redis = h.loadAndMeasure(ctx, p, addr, err, d)
	h.logf("memory: redis-server %s", m.redis)
	if p != nil {
		h.fleet.stopGroup([]*process{p})
	}

	h.logf("memory: loading %s into one raftcache node", d)
	procs, addrs, _, err := h.startRaftcache(ctx, name+"-raftcache", 1)
	var rp *process
	var raddr string
	if len(procs) > 0 {
		rp, raddr = procs[0], addrs[0]
	}
	m.raftcache = h.loadAndMeasure(ctx, rp, raddr, err, d)
	h.logf("memory: raftcache %s", m.raftcache)
	h.fleet.stopGroup(procs)
	return m
}

func (s memSample) String() string {
	if s.err != "" {
		return "failed: " + s.err
	}
	return fmt.Sprintf("VmRSS %.1f MiB after the load, %.1f MiB settled (anon %.1f, file %.1f), loaded in %v",
		mib(s.afterLoad), mib(s.vmRSS), mib(s.rssAnon), mib(s.rssFile), s.load.Round(time.Millisecond))
}

func (h *harness) loadAndMeasure(ctx context.Context, p *process, addr string, startErr error, d dataset) memSample {
	if startErr != nil {
		h.mu.Lock()
		h.startFailed = true
		h.mu.Unlock()
		return memSample{err: "start: " + startErr.Error()}
	}
	began := time.Now()
	if err := h.pipeLoad(ctx, addr, d); err != nil {
		return memSample{err: err.Error()}
	}
	load := time.Since(began)
	r, err := command(addr, "DBSIZE")
	if err != nil {
		return memSample{err: "DBSIZE: " + err.Error()}
	}
	if want := ":" + strconv.Itoa(d.keys) + "\r\n"; r != want {
		return memSample{err: fmt.Sprintf("DBSIZE answered %q after the load, want %q", strings.TrimSpace(r), strings.TrimSpace(want))}
	}
	first, err := readStatus(p.pid())
	if err != nil {
		return memSample{err: err.Error()}
	}
	s, settled, err := settle(ctx, p.pid(), first)
	if err != nil {
		return memSample{err: err.Error()}
	}
	s.afterLoad, s.settled, s.load = first.vmRSS, settled, load
	s.usedMemory, s.logDisk = -1, -1
	if info, err := command(addr, "INFO", "memory"); err == nil {
		if v, err := strconv.ParseInt(infoFields(info)["used_memory"], 10, 64); err == nil {
			s.usedMemory = v
		}
	}
	if info, err := command(addr, "INFO", "persistence"); err == nil {
		if v, err := strconv.ParseInt(infoFields(info)["raft_log_disk_bytes"], 10, 64); err == nil {
			s.logDisk = v
		}
	}
	return s
}

// Settling: a server's resident memory right after the load still holds
// connection buffers and garbage it has not handed back yet (Go returns
// freed pages gradually), so the comparison waits for VmRSS to stop
// moving.
const (
	settleEvery   = 500 * time.Millisecond
	settleWindow  = 8    // samples: 4 seconds
	settleMaxMove = 0.02 // of the window's largest sample
	settleLimit   = 30 * time.Second
)

// settle samples the process's memory until VmRSS has moved less than
// settleMaxMove over settleWindow samples, or settleLimit has passed. It
// returns the last sample and whether it settled.
func settle(ctx context.Context, pid int, first memSample) (memSample, bool, error) {
	samples := []int64{first.vmRSS}
	last := first
	deadline := time.Now().Add(settleLimit)
	for !stable(samples, settleWindow, settleMaxMove) {
		if time.Now().After(deadline) {
			return last, false, nil
		}
		select {
		case <-ctx.Done():
			return last, false, ctx.Err()
		case <-time.After(settleEvery):
		}
		s, err := readStatus(pid)
		if err != nil {
			return last, false, err
		}
		last = s
		samples = append(samples, s.vmRSS)
	}
	return last, true, nil
}

// stable reports whether the last window+1 samples lie within maxMove of
// their largest.
func stable(samples []int64, window int, maxMove float64) bool {
	if len(samples) <= window {
		return false
	}
	lo, hi := samples[len(samples)-1], samples[len(samples)-1]
	for _, v := range samples[len(samples)-window-1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return float64(hi-lo) <= maxMove*float64(hi)
}

func readStatus(pid int) (memSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	return parseProcStatus(string(status))
}

// pipeLoad loads the keys through h.cfg.loadStreams concurrent `redis-cli
// --pipe` processes, each given a contiguous range of the keys, and checks
// that every command was answered without an error.
func (h *harness) pipeLoad(ctx context.Context, addr string, d dataset) error {
	lctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	streams := min(h.cfg.loadStreams, d.keys)
	errs := make(chan error, streams)
	for i := range streams {
		from, to := d.keys*i/streams, d.keys*(i+1)/streams
		go func() { errs <- h.pipeRange(lctx, addr, from, to, d) }()
	}
	var first error
	for range streams {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel() // no point loading the rest
		}
	}
	if first != nil && lctx.Err() == context.DeadlineExceeded {
		return errors.New("redis-cli --pipe timed out")
	}
	return first
}

// pipeRange feeds the commands of keys [from, to) to one `redis-cli
// --pipe`.
func (h *harness) pipeRange(ctx context.Context, addr string, from, to int, d dataset) error {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, h.tools.redisCli, "-h", host, "-p", port, "--pipe")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	werr := d.writeCommands(stdin, from, to)
	stdin.Close()
	err = cmd.Wait()
	h.rawf("### redis-cli --pipe of keys %d-%d into %s (%v)\n%s\n", from, to-1, addr, err, out.String())
	if err != nil || werr != nil {
		return fmt.Errorf("redis-cli --pipe: %v %v: %s", err, werr, lastLines(out.String(), 2))
	}
	errCount, replies, err := parsePipeSummary(out.String())
	if err != nil {
		return err
	}
	if errCount != 0 || replies != to-from {
		return fmt.Errorf("redis-cli --pipe: %d errors, %d replies for %d commands", errCount, replies, to-from)
	}
	return nil
}

// writeSetCommands writes "SET key:<i> <value>" in RESP for every i in
// [from, to), each value valueSize bytes and different from the others.
func writeSetCommands(w io.Writer, from, to, valueSize int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	val := bytes.Repeat([]byte{'x'}, valueSize)
	var buf []byte
	for i := from; i < to; i++ {
		key := "key:" + strconv.Itoa(i)
		// The index at the end of the value makes every value distinct.
		idx := strconv.Itoa(i)
		copy(val[max(0, valueSize-len(idx)):], idx)
		buf = buf[:0]
		buf = append(buf, "*3\r\n$3\r\nSET\r\n$"...)
		buf = strconv.AppendInt(buf, int64(len(key)), 10)
		buf = append(buf, "\r\n"...)
		buf = append(buf, key...)
		buf = append(buf, "\r\n$"...)
		buf = strconv.AppendInt(buf, int64(valueSize), 10)
		buf = append(buf, "\r\n"...)
		buf = append(buf, val...)
		buf = append(buf, "\r\n"...)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeHashCommands writes "HSET hash:<i> field:<f> <value> ..." in RESP
// for every i in [from, to), fields fields each, the values 10 to 30 bytes
// long and different from hash to hash.
func writeHashCommands(w io.Writer, from, to, fields int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var buf []byte
	bulk := func(b []byte, s []byte) []byte {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, "\r\n"...)
		b = append(b, s...)
		return append(b, "\r\n"...)
	}
	val := bytes.Repeat([]byte{'v'}, 30)
	for i := from; i < to; i++ {
		buf = append(buf[:0], '*')
		buf = strconv.AppendInt(buf, int64(2+2*fields), 10)
		buf = append(buf, "\r\n"...)
		buf = bulk(buf, []byte("HSET"))
		buf = bulk(buf, []byte("hash:"+strconv.Itoa(i)))
		idx := strconv.Itoa(i)
		for f := range fields {
			buf = bulk(buf, []byte("field:"+strconv.Itoa(f)))
			v := val[:10+(i+f)%21]
			copy(v[max(0, len(v)-len(idx)):], idx)
			buf = bulk(buf, v)
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

var pipeSummaryRE = regexp.MustCompile(`errors: (\d+), replies: (\d+)`)

// parsePipeSummary reads redis-cli --pipe's last line, "errors: E,
// replies: R".
func parsePipeSummary(out string) (errs, replies int, err error) {
	m := pipeSummaryRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("redis-cli --pipe printed no summary: %s", lastLines(out, 2))
	}
	errs, _ = strconv.Atoi(m[1])
	replies, _ = strconv.Atoi(m[2])
	return errs, replies, nil
}

// parseProcStatus reads VmRSS, RssAnon and RssFile (kB) from the text of
// /proc/PID/status.
func parseProcStatus(status string) (memSample, error) {
	var s memSample
	found := 0
	for _, line := range strings.Split(status, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &s.vmRSS
		case "RssAnon":
			dst = &s.rssAnon
		case "RssFile":
			dst = &s.rssFile
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return s, fmt.Errorf("/proc status: unexpected %s line %q", name, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc status: %s: %w", name, err)
		}
		*dst = kb * 1024
		if name == "VmRSS" {
			found++
		}
	}
	if found == 0 {
		return s, errors.New("/proc status has no VmRSS line")
	}
	return s, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
