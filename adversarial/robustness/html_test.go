package robustness

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"html/template"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// squareOnlyAt adds to rep an attack that ran at the last eps only (as a
// slow black-box attack run where it matters), with a per-sample outcome.
func squareOnlyAt(rep *Report) {
	e := rep.Eps[len(rep.Eps)-1]
	res := AttackResult{Eps: e, RobustAccuracy: rep.CleanAccuracy / 2, Robust: make([]bool, rep.Samples)}
	rep.Attacks = append(rep.Attacks, AttackReport{Name: "Square-30", Kind: BlackBoxKind, Results: []AttackResult{res}})
}

var circleRE = regexp.MustCompile(`<circle data-series="([^"]*)" data-eps="([^"]*)"`)

// seriesEps returns, per series of the chart, the eps it has a point at.
func seriesEps(t *testing.T, page string) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, m := range circleRE.FindAllStringSubmatch(page, -1) {
		e, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("circle with eps %q", m[2])
		}
		out[m[1]] = append(out[m[1]], e)
	}
	return out
}

func TestHTMLReport(t *testing.T) {
	rep := sampleReport(t, 40)
	squareOnlyAt(rep)
	if len(rep.Examples) == 0 {
		t.Fatal("the sample report holds no example")
	}
	dir := t.TempDir()
	if err := rep.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)

	t.Run("self-contained", func(t *testing.T) {
		for _, bad := range []string{"<script", "<link", "@import", "url(", `src="http`, `href="http`} {
			if strings.Contains(page, bad) {
				t.Errorf("the page holds %q: it must load nothing", bad)
			}
		}
		if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
			t.Error("not a whole HTML page")
		}
	})
	t.Run("tables and checks", func(t *testing.T) {
		for _, a := range rep.Attacks {
			if !strings.Contains(page, "<td>"+a.Name+"</td>") {
				t.Errorf("no table row for %s", a.Name)
			}
		}
		if len(rep.Checks) == 0 {
			t.Fatal("the sample report ran no check")
		}
		for _, c := range rep.Checks {
			m := CheckMeaning(c.Name)
			if m == "" {
				t.Errorf("check %q has no meaning", c.Name)
			}
			if !strings.Contains(page, c.Name) || !strings.Contains(page, htmlEscape(m)) {
				t.Errorf("check %q or its meaning missing from the page", c.Name)
			}
		}
	})
	t.Run("chart draws each attack where it ran", func(t *testing.T) {
		got := seriesEps(t, page)
		for _, a := range rep.Attacks {
			var want []float64
			for _, res := range a.Results {
				want = append(want, res.Eps)
			}
			if !slices.Equal(got[htmlEscape(a.Name)], want) {
				t.Errorf("%s drawn at eps %v, ran at %v", a.Name, got[a.Name], want)
			}
		}
		if strings.Contains(page, `<polyline data-series="Square-30"`) {
			t.Error("an attack run at one eps is drawn as a line")
		}
		if len(got["worst case"]) != len(rep.WorstCase) {
			t.Errorf("worst case drawn at %v", got["worst case"])
		}
		for _, e := range rep.Eps {
			if !strings.Contains(page, ">"+strconv.FormatFloat(e, 'g', 3, 64)+"</text>") {
				t.Errorf("no tick label at eps %g", e)
			}
		}
	})
	t.Run("example grid", func(t *testing.T) {
		const prefix = `src="data:image/png;base64,`
		i := strings.Index(page, prefix)
		if i < 0 {
			t.Fatal("no embedded PNG")
		}
		enc := page[i+len(prefix):]
		enc = enc[:strings.IndexByte(enc, '"')]
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(enc))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ExampleGrid(rep.Examples, rep.Classes)
		if img.Bounds() != want.Bounds() {
			t.Errorf("embedded grid %v, ExampleGrid %v", img.Bounds(), want.Bounds())
		}
		if !strings.Contains(page, "true label") || !strings.Contains(page, "prediction") {
			t.Error("the page does not say the grid shows true labels and predictions")
		}
	})
}

func TestHTMLReportNoAttack(t *testing.T) {
	rep := &Report{Norm: "Linf", Hi: 1, Samples: 1, Correct: 1, CleanAccuracy: 1, Labels: []int{0}, CleanPred: []int{0}}
	page, err := rep.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page, "no attack ran") || strings.Contains(page, "<circle") {
		t.Error("an empty report should say there is nothing to draw")
	}
	if !strings.Contains(page, "1 sample:") {
		t.Error("one sample is not named in the singular")
	}
}

func htmlEscape(s string) string {
	return template.HTMLEscapeString(s)
}

// chromium is Debian's headless browser, which the browser test needs.
const chromium = "/usr/bin/chromium"

// screenshot renders page (a file) with headless Chromium to a w x h PNG.
func screenshot(t *testing.T, page string, w, h int) image.Image {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is absent (apt-get install chromium)", chromium)
	}
	out := filepath.Join(t.TempDir(), "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--screenshot="+out, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), "file://"+page)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// near reports whether two 8-bit channel values differ by 12 at most.
func near(a, b uint32) bool { return a+12 >= b && b+12 >= a }

func TestHTMLReportInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	rep := sampleReport(t, 40)
	squareOnlyAt(rep)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := rep.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	const w, h = 1100, 1600
	img := screenshot(t, path, w, h)
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Fatalf("screenshot of %v, want %dx%d", got, w, h)
	}
	// A blank or failed page is white (or one colour) throughout; the
	// report has text, coloured lines and the example images.
	colors := map[uint32]bool{}
	dark, red, blue := 0, 0, 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[(r>>11)<<10|(g>>11)<<5|b>>11] = true
			if r+g+b < 3*0x4000 {
				dark++
			}
			if r > 0xc000 && g < 0x6000 && b < 0x6000 {
				red++
			}
			// The first attack's line and points, matplotlib's blue
			// (31, 119, 180), drawn by the browser from the inline SVG.
			if near(r>>8, 31) && near(g>>8, 119) && near(b>>8, 180) {
				blue++
			}
		}
	}
	if len(colors) < 50 || dark < w*h/500 {
		t.Errorf("the screenshot looks blank: %d colours, %d dark pixels", len(colors), dark)
	}
	if blue < 100 {
		t.Errorf("%d pixels of the chart's first line: the SVG chart did not render", blue)
	}
	t.Logf("%d colours, %d dark pixels, %d red pixels, %d blue pixels", len(colors), dark, red, blue)
}

func TestPlotAccuracyStaysInFrame(t *testing.T) {
	rep := sampleReport(t, 40)
	squareOnlyAt(rep)
	path := filepath.Join(t.TempDir(), "accuracy.png")
	if err := rep.PlotAccuracy(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if x >= 8 && x < b.Max.X-8 && y >= 8 && y < b.Max.Y-8 {
				continue
			}
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				n++
			}
		}
	}
	if n != 0 {
		t.Errorf("%d drawn pixels in the 8-pixel border: the legend, title or a tick runs off the picture", n)
	}
	// The PNG draws the same series as the page: Square-30 at its one eps.
	for _, s := range rep.accuracySeries() {
		if s.name == "Square-30" && !slices.Equal(s.eps, []float64{rep.Eps[len(rep.Eps)-1]}) {
			t.Errorf("Square-30 drawn at %v", s.eps)
		}
	}
}
