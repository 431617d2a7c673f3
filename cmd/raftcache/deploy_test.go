package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/raftcache/raftcache/cluster"
	"github.com/raftcache/raftcache/config"
)

// No container runtime runs here, so the deployment files are checked
// against the binary instead: every command line they give must parse
// with raftcache's own flags (and every option of their config files must
// be a flag), and every port, address, volume and probe they declare must
// agree with what those flags make the node listen on and store.

const deployDir = "../../deploy"

// entrypointArgs returns the arguments the Dockerfile's ENTRYPOINT gives
// before a container's own (the binary itself left out).
func entrypointArgs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT (\[.*\])$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the Dockerfile has no ENTRYPOINT [...]")
	}
	var ep []string
	if err := json.Unmarshal(m[1], &ep); err != nil || len(ep) == 0 || filepath.Base(ep[0]) != "raftcache" {
		t.Fatalf("ENTRYPOINT %s: %v", m[1], err)
	}
	return ep[1:]
}

// exposedPorts returns the Dockerfile's EXPOSEd ports.
func exposedPorts(t *testing.T) []string {
	t.Helper()
	data, _ := os.ReadFile("../../Dockerfile")
	m := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the Dockerfile exposes no port")
	}
	return strings.Fields(string(m[1]))
}

// checkArgs parses a container's command line with the binary's flags
// and returns the options, failing on any flag the binary lacks.
func checkArgs(t *testing.T, where string, args []string) options {
	t.Helper()
	var o options
	fs := newFlagSet(&o, io.Discard)
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(name) == nil {
			t.Errorf("%s: raftcache has no flag --%s", where, name)
		}
	}
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("%s: raftcache %q: %v", where, args, err)
	}
	return o
}

// checkConfigOptions fails for every option of a config file that is not
// a flag.
func checkConfigOptions(t *testing.T, path string) {
	t.Helper()
	dirs, err := config.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet(new(options), io.Discard)
	for _, d := range dirs {
		if fs.Lookup(d.Name) == nil {
			t.Errorf("%s: %q is not a raftcache option", d.Where(), d.Name)
		}
	}
	if len(dirs) == 0 {
		t.Errorf("%s sets nothing", path)
	}
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// compose is the part of a docker-compose file the test reads.
type compose struct {
	Services map[string]struct {
		Build    any      `yaml:"build"`
		Image    string   `yaml:"image"`
		Hostname string   `yaml:"hostname"`
		Command  []string `yaml:"command"`
		Ports    []string `yaml:"ports"`
		Volumes  []string `yaml:"volumes"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestDockerCompose checks deploy/docker-compose.yml.
func TestDockerCompose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 3 {
		t.Fatalf("%d services, want three nodes", len(c.Services))
	}
	exposed := exposedPorts(t)
	published := map[string]bool{}
	for name, svc := range c.Services {
		where := "docker-compose.yml: " + name
		// Bind-mounted files are read from the repository.
		args := append(entrypointArgs(t), svc.Command...)
		mounts := map[string]string{}
		for _, v := range svc.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Fatalf("%s: volume %q", where, v)
			}
			mounts[parts[1]] = parts[0]
		}
		for i, a := range args {
			if host, ok := mounts[a]; ok && strings.HasPrefix(host, ".") {
				args[i] = filepath.Join(deployDir, host)
			}
		}
		o := checkArgs(t, where, args)
		if o.configFile != "" {
			checkConfigOptions(t, o.configFile)
		}
		if o.id != name || (svc.Hostname != "" && svc.Hostname != name) {
			t.Errorf("%s: --id %s, hostname %s", where, o.id, svc.Hostname)
		}
		if vol, ok := mounts[o.dir]; !ok || strings.HasPrefix(vol, ".") || c.Volumes == nil {
			t.Errorf("%s: --dir %s is not on a named volume (%v)", where, o.dir, mounts)
		} else if _, declared := c.Volumes[vol]; !declared {
			t.Errorf("%s: volume %s is not declared", where, vol)
		}
		for _, p := range []string{port(t, o.addr), port(t, o.clusterAddr), port(t, o.metricsAddr)} {
			if !slices.Contains(exposed, p) {
				t.Errorf("%s: port %s is not EXPOSEd by the Dockerfile (%v)", where, p, exposed)
			}
		}
		targets := map[string]string{}
		for _, p := range svc.Ports {
			host, container, ok := strings.Cut(p, ":")
			if !ok {
				t.Errorf("%s: port mapping %q", where, p)
			}
			targets[container] = host
			if published[host] {
				t.Errorf("%s: host port %s published twice", where, host)
			}
			published[host] = true
		}
		for what, p := range map[string]string{"--addr": port(t, o.addr), "--metrics-addr": port(t, o.metricsAddr)} {
			if _, ok := targets[p]; !ok {
				t.Errorf("%s: %s port %s is not published (%v)", where, what, p, svc.Ports)
			}
		}
		checkPeers(t, where, o, func(id string) (string, bool) {
			_, ok := c.Services[id]
			return id, ok // service names resolve on the compose network
		})
	}
}

// checkPeers checks --peers: every member is a node of the deployment
// (host as hostOf says), with the client and cluster ports the nodes
// listen on, and this node advertises its own entry.
func checkPeers(t *testing.T, where string, o options, hostOf func(id string) (string, bool)) {
	t.Helper()
	peers, err := cluster.ParsePeers(o.peers)
	if err != nil || len(peers) != 3 {
		t.Fatalf("%s: --peers %q: %d peers, %v", where, o.peers, len(peers), err)
	}
	self := false
	for _, p := range peers {
		host, ok := hostOf(p.ID)
		if !ok {
			t.Errorf("%s: peer %s is no node of the deployment", where, p.ID)
			continue
		}
		if want := net.JoinHostPort(host, port(t, o.addr)); p.Addr != want {
			t.Errorf("%s: peer %s client address %s, want %s", where, p.ID, p.Addr, want)
		}
		if want := net.JoinHostPort(host, port(t, o.clusterAddr)); p.ClusterAddr != want {
			t.Errorf("%s: peer %s cluster address %s, want %s", where, p.ID, p.ClusterAddr, want)
		}
		if p.ID == o.id {
			self = true
			if addr, err := o.clientAddr(peers); err != nil || addr != p.Addr {
				t.Errorf("%s: advertises %s, %v; its --peers entry is %s", where, addr, err, p.Addr)
			}
		}
	}
	if !self {
		t.Errorf("%s: --id %s is not in --peers", where, o.id)
	}
}

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Service
		ClusterIP                string           `yaml:"clusterIP"`
		PublishNotReadyAddresses bool             `yaml:"publishNotReadyAddresses"`
		Selector                 yaml.Node        `yaml:"selector"`
		Ports                    []k8sServicePort `yaml:"ports"`
		MaxUnavailable           any              `yaml:"maxUnavailable"`
		MinAvailable             any              `yaml:"minAvailable"`
		ServiceName              string           `yaml:"serviceName"`
		Replicas                 int              `yaml:"replicas"`
		PodManagementPolicy      string           `yaml:"podManagementPolicy"`
		Template                 struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []k8sClaim `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type k8sClaim struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

type k8sServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// selectorLabels reads a selector: a Service's map, or a workload's
// matchLabels.
func selectorLabels(n yaml.Node) map[string]string {
	var direct map[string]string
	if n.Decode(&direct) == nil && direct["matchLabels"] == "" {
		if _, nested := direct["matchLabels"]; !nested {
			return direct
		}
	}
	var nested struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	_ = n.Decode(&nested)
	return nested.MatchLabels
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesManifests checks deploy/kubernetes/raftcache.yaml: a
// StatefulSet behind a headless Service, readiness on /readyz, a
// PodDisruptionBudget and persistent volumes, all agreeing with the
// flags the pods run with.
func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open(filepath.Join(deployDir, "kubernetes", "raftcache.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byKind := map[string][]k8sObject{}
	dec := yaml.NewDecoder(f)
	for {
		var obj k8sObject
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		byKind[obj.Kind] = append(byKind[obj.Kind], obj)
	}
	if len(byKind["StatefulSet"]) != 1 || len(byKind["PodDisruptionBudget"]) != 1 || len(byKind["ConfigMap"]) != 1 {
		t.Fatalf("want one StatefulSet, PodDisruptionBudget and ConfigMap: %v", byKind)
	}
	sts := byKind["StatefulSet"][0]
	podLabels := sts.Spec.Template.Metadata.Labels
	if !selects(selectorLabels(sts.Spec.Selector), podLabels) {
		t.Errorf("the StatefulSet's selector does not select its pods")
	}
	if sts.Spec.PodManagementPolicy != "Parallel" {
		t.Errorf("podManagementPolicy %q: with OrderedReady the first pod waits to be ready, which it cannot be alone",
			sts.Spec.PodManagementPolicy)
	}
	if len(sts.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(sts.Spec.Template.Spec.Containers))
	}
	ctr := sts.Spec.Template.Spec.Containers[0]
	if len(ctr.Command) > 0 {
		t.Fatalf("the container replaces the image's entrypoint: %v", ctr.Command)
	}

	// The config file comes from the ConfigMap mounted where --config
	// points.
	confDir := t.TempDir()
	cm := byKind["ConfigMap"][0]
	for name, text := range cm.Data {
		if err := os.WriteFile(filepath.Join(confDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mounts := map[string]string{} // mount path → volume name
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	configVolumes := map[string]string{}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		configVolumes[v.Name] = v.ConfigMap.Name
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.ValueFrom.FieldRef.FieldPath
	}

	hostOf := func(id string) (string, bool) {
		for i := range sts.Spec.Replicas {
			if id == fmt.Sprintf("%s-%d", sts.Metadata.Name, i) {
				return id + "." + sts.Spec.ServiceName, true
			}
		}
		return "", false
	}
	var o options
	for i := range sts.Spec.Replicas {
		pod := fmt.Sprintf("%s-%d", sts.Metadata.Name, i)
		where := "raftcache.yaml: pod " + pod
		args := append(entrypointArgs(t), ctr.Args...)
		for j, a := range args {
			// Kubernetes expands $(VAR) from the container's env.
			args[j] = regexp.MustCompile(`\$\((\w+)\)`).ReplaceAllStringFunc(a, func(ref string) string {
				name := ref[2 : len(ref)-1]
				if env[name] != "metadata.name" {
					t.Errorf("%s: %s is not the pod's name", where, ref)
				}
				return pod
			})
			if name, path, ok := strings.Cut(args[j], "="); ok && name == "--config" {
				dir := filepath.Dir(path)
				if configVolumes[mounts[dir]] != cm.Metadata.Name {
					t.Errorf("%s: --config %s is not in the ConfigMap's mount", where, path)
				}
				args[j] = "--config=" + filepath.Join(confDir, filepath.Base(path))
			}
		}
		o = checkArgs(t, where, args)
		if o.configFile == "" {
			t.Errorf("%s: no --config", where)
		} else {
			checkConfigOptions(t, o.configFile)
		}
		if o.id != pod {
			t.Errorf("%s: --id %s", where, o.id)
		}
		checkPeers(t, where, o, hostOf)
	}

	ports := map[string]int{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, addr := range map[string]string{"client": o.addr, "cluster": o.clusterAddr, "metrics": o.metricsAddr} {
		if strconv.Itoa(ports[name]) != port(t, addr) {
			t.Errorf("containerPort %s = %d, the node listens on %s", name, ports[name], addr)
		}
	}
	portOf := func(p any) int {
		switch v := p.(type) {
		case int:
			return v
		case string:
			return ports[v]
		}
		return 0
	}
	for probe, want := range map[*k8sProbe]string{ctr.ReadinessProbe: "/readyz", ctr.LivenessProbe: "/healthz"} {
		if probe == nil || probe.HTTPGet.Path != want || strconv.Itoa(portOf(probe.HTTPGet.Port)) != port(t, o.metricsAddr) {
			t.Errorf("probe for %s: %+v (metrics on %s)", want, probe, o.metricsAddr)
		}
	}
	annotations := sts.Spec.Template.Metadata.Annotations
	if annotations["prometheus.io/port"] != port(t, o.metricsAddr) || annotations["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v", annotations)
	}

	// Persistent data: --dir is a volume claim template's mount.
	claim := mounts[o.dir]
	if claim == "" || !slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(v k8sClaim) bool { return v.Metadata.Name == claim }) {
		t.Errorf("--dir %s is not on a volume claim template (mounts %v)", o.dir, mounts)
	}

	// The headless Service names the pods as --peers does, publishes them
	// before they are ready, and carries the cluster port.
	var headless *k8sObject
	for i, svc := range byKind["Service"] {
		if !selects(selectorLabels(svc.Spec.Selector), podLabels) {
			t.Errorf("Service %s does not select the pods", svc.Metadata.Name)
		}
		for _, p := range svc.Spec.Ports {
			if target := portOf(p.TargetPort); target == 0 || !slices.Contains([]string{port(t, o.addr),
				port(t, o.clusterAddr), port(t, o.metricsAddr)}, strconv.Itoa(target)) {
				t.Errorf("Service %s port %s targets %v, which no listener has", svc.Metadata.Name, p.Name, p.TargetPort)
			}
		}
		if svc.Metadata.Name == sts.Spec.ServiceName {
			headless = &byKind["Service"][i]
		}
	}
	if headless == nil || headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses ||
		!slices.ContainsFunc(headless.Spec.Ports, func(p k8sServicePort) bool { return portOf(p.TargetPort) == ports["cluster"] }) {
		t.Errorf("the StatefulSet's Service %q must be headless, publish not-ready pods and carry the cluster port: %+v",
			sts.Spec.ServiceName, headless)
	}

	// The budget keeps a majority of every shard's replicas.
	pdb := byKind["PodDisruptionBudget"][0]
	if !selects(selectorLabels(pdb.Spec.Selector), podLabels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	majority := sts.Spec.Replicas/2 + 1
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if n, ok := pdb.Spec.MaxUnavailable.(int); !ok || n < 1 || sts.Spec.Replicas-n < majority {
			t.Errorf("maxUnavailable %v leaves no majority of %d", pdb.Spec.MaxUnavailable, sts.Spec.Replicas)
		}
	case pdb.Spec.MinAvailable != nil:
		if n, ok := pdb.Spec.MinAvailable.(int); !ok || n < majority || n >= sts.Spec.Replicas {
			t.Errorf("minAvailable %v: want a majority that still lets one pod go", pdb.Spec.MinAvailable)
		}
	default:
		t.Error("the PodDisruptionBudget sets no limit")
	}
}
