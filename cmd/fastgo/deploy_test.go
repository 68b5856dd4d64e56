package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// yamlArgs returns the items of the first list under a key "args:" of each
// container of a Kubernetes manifest (a small reader for the manifests of
// deploy/kubernetes: block lists of scalars, no anchors), by container
// name, and the scalar "key: value" pairs of the file.
func yamlArgs(t *testing.T, path string) (args map[string][]string, scalars map[string][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args, scalars = map[string][]string{}, map[string][]string{}
	var container string
	inArgs, argIndent, containerIndent := false, 0, -1
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if strings.Contains(line, "\t") {
			t.Errorf("%s:%d: a tab in YAML", path, ln)
		}
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if inArgs {
			if indent == argIndent && strings.HasPrefix(trim, "- ") {
				v := strings.TrimPrefix(trim, "- ")
				args[container] = append(args[container], strings.Trim(v, `"`))
				continue
			}
			inArgs = false
		}
		item := strings.TrimPrefix(trim, "- ")
		k, v, ok := strings.Cut(item, ":")
		if !ok {
			t.Errorf("%s:%d: %q is not a key, a list item or a comment", path, ln, trim)
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if k == "containers" || k == "initContainers" {
			containerIndent = indent + 2
		}
		if k == "name" && strings.HasPrefix(trim, "- name:") && indent == containerIndent {
			container = v
		}
		if k == "args" && v == "" {
			inArgs, argIndent = true, indent+2
			continue
		}
		if v != "" {
			scalars[k] = append(scalars[k], v)
		}
	}
	return args, scalars
}

// checkFastgoArgs runs fastgo with args whose files do not exist: a flag
// fastgo does not know is a usage error (exit 2), a missing file exit 1.
func checkFastgoArgs(t *testing.T, where string, args []string, wantMissing string) {
	t.Helper()
	code, _, stderr := runCLI(args...)
	if code != 1 || !strings.Contains(stderr, wantMissing) {
		t.Errorf("%s: fastgo %s: exit %d, %q; want exit 1 naming %s", where, strings.Join(args, " "), code, stderr, wantMissing)
	}
}

// TestDeployKubernetes reads the Kubernetes manifests of deploy/: the
// Indexed Jobs pass the completion index as -shard i/n with n their
// completions, the merge Jobs merge shard-0 to shard-(n-1), and every fastgo
// command line is one fastgo accepts.
func TestDeployKubernetes(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "kubernetes")
	sub := func(a []string, old, new string) []string {
		out := make([]string, len(a))
		for i, s := range a {
			out[i] = strings.ReplaceAll(s, old, new)
		}
		return out
	}
	for _, variant := range []struct{ shards, merge, container, mergeContainer string }{
		{"robustness-shards.yaml", "robustness-merge.yaml", "shard", "merge"},
		{"robustness-shards-s3.yaml", "robustness-merge-s3.yaml", "shard", "merge"},
	} {
		args, sc := yamlArgs(t, filepath.Join(dir, variant.shards))
		if !slicesHave(sc["kind"], "Job") || !slicesHave(sc["completionMode"], "Indexed") || len(sc["completions"]) != 1 {
			t.Fatalf("%s: not an Indexed Job: %v", variant.shards, sc)
		}
		n := sc["completions"][0]
		if !slicesHave(sc["value"], n) {
			t.Errorf("%s: SHARDS is not the %s completions: %v", variant.shards, n, sc["value"])
		}
		a := args[variant.container]
		k := indexOf(a, "-shard")
		if k < 0 || a[k+1] != "$(JOB_COMPLETION_INDEX)/$(SHARDS)" {
			t.Fatalf("%s: args %v do not pass the completion index as -shard", variant.shards, a)
		}
		a = sub(sub(a, "$(JOB_COMPLETION_INDEX)", "1"), "$(SHARDS)", n)
		a = sub(a, "/shared/", t.TempDir()+"/")
		a = sub(a, "/work/", t.TempDir()+"/")
		checkFastgoArgs(t, variant.shards, a, "model.safetensors")

		margs, msc := yamlArgs(t, filepath.Join(dir, variant.merge))
		if !slicesHave(msc["kind"], "Job") {
			t.Errorf("%s: not a Job", variant.merge)
		}
		m := margs[variant.mergeContainer]
		if len(m) < 2 || m[0] != "robustness" || m[1] != "merge" {
			t.Fatalf("%s: args %v", variant.merge, m)
		}
		var count int
		fmt.Sscan(n, &count)
		for i := 0; i < count; i++ {
			if !strings.HasSuffix(m[2+i], fmt.Sprintf("/shard-%d", i)) {
				t.Errorf("%s: part %d is %q", variant.merge, i, m[2+i])
			}
		}
		if len(m) != 2+count+2 || m[2+count] != "-out" {
			t.Errorf("%s: merges %d parts for %s shards: %v", variant.merge, len(m)-4, n, m)
		}
		tmp := t.TempDir()
		checkFastgoArgs(t, variant.merge, sub(sub(m, "/shared/", tmp+"/"), "/work/", tmp+"/"), "shard-0")
	}
}

func slicesHave(v []string, s string) bool { return indexOf(v, s) >= 0 }

func indexOf(v []string, s string) int {
	for i, x := range v {
		if x == s {
			return i
		}
	}
	return -1
}

// TestDeploySlurm checks the Slurm scripts with bash -n, then runs the
// array task and the merge with a stand-in for fastgo that records its
// arguments, which fastgo must accept: task i of n evaluates -shard i/n and
// the merge takes every part.
func TestDeploySlurm(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := filepath.Join("..", "..", "deploy", "slurm")
	for _, f := range []string{"robustness-shard.sbatch", "robustness-merge.sbatch", "submit.sh"} {
		if out, err := exec.Command(bash, "-n", filepath.Join(dir, f)).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", f, err, out)
		}
	}
	tmp := t.TempDir()
	record := filepath.Join(tmp, "args")
	stub := filepath.Join(tmp, "fastgo-stub")
	os.WriteFile(stub, []byte("#!/bin/bash\nprintf '%s\\n' \"$@\" > "+record+"\n"), 0o755)
	run := func(script string, env ...string) []string {
		c := exec.Command(bash, filepath.Join(dir, script))
		c.Env = append(os.Environ(), append(env, "FASTGO="+stub, "RUN_DIR="+filepath.Join(tmp, "run"))...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		b, err := os.ReadFile(record)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	a := run("robustness-shard.sbatch", "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=4", "MODEL="+filepath.Join(tmp, "model.safetensors"))
	if k := indexOf(a, "-shard"); k < 0 || a[k+1] != "2/4" {
		t.Errorf("the array task runs %v", a)
	}
	checkFastgoArgs(t, "robustness-shard.sbatch", a, "model.safetensors")
	m := run("robustness-merge.sbatch", "SHARDS=3")
	if len(m) != 7 || !regexp.MustCompile(`/parts/shard-2$`).MatchString(m[4]) {
		t.Errorf("the merge runs %v", m)
	}
	checkFastgoArgs(t, "robustness-merge.sbatch", m, "shard-0")
	// Without the array's variables the task refuses to run.
	c := exec.Command(bash, filepath.Join(dir, "robustness-shard.sbatch"))
	c.Env = append(os.Environ(), "FASTGO="+stub, "RUN_DIR="+tmp, "MODEL=m", "SLURM_ARRAY_TASK_ID=", "SLURM_ARRAY_TASK_COUNT=")
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "job array") {
		t.Errorf("a task outside an array ran: %v %s", err, out)
	}
}
