// eliza-go-client: the client half of bench/run.sh on connect-go. Each of
// -c workers has its own HTTP/1.1 connection (its own transport, one
// connection at most) and makes -n sequential unary Say calls (proto,
// POST, no compression); every call is timed. With -h2 the -c workers
// share one transport speaking h2c with prior knowledge: -c concurrent
// streams on one HTTP/2 connection.
//
//	eliza-go-client -url http://127.0.0.1:PORT -c 1 -n 10000 [-h2]
//
// Prints one line: "calls=N seconds=S calls_per_s=R p50_us=A p99_us=B".
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"

	elizav1 "connectc.bench/go/gen/elizav1"
	"connectc.bench/go/gen/elizav1/elizav1connect"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	workers := flag.Int("c", 1, "workers, each with its own connection")
	n := flag.Int("n", 10000, "sequential calls per worker")
	warmup := flag.Int("warmup", 200, "untimed calls per worker first")
	h2 := flag.Bool("h2", false, "h2c: every worker is a stream of one shared HTTP/2 connection")
	flag.Parse()

	lat := make([][]time.Duration, *workers)
	var wg sync.WaitGroup
	var failed sync.Once
	fail := func(err error) {
		failed.Do(func() { fmt.Fprintln(os.Stderr, "eliza-go-client:", err); os.Exit(1) })
	}
	clients := make([]elizav1connect.ElizaServiceClient, *workers)
	var shared *http.Client
	if *h2 {
		var protocols http.Protocols
		protocols.SetUnencryptedHTTP2(true) // prior knowledge; HTTP/1 off
		shared = &http.Client{Transport: &http.Transport{Protocols: &protocols, MaxConnsPerHost: 1}}
	}
	for w := range clients {
		hc := shared
		if hc == nil {
			hc = &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
		}
		clients[w] = elizav1connect.NewElizaServiceClient(hc, *url)
		for i := 0; i < *warmup; i++ {
			if _, err := clients[w].Say(context.Background(), connect.NewRequest(&elizav1.SayRequest{Sentence: "hello"})); err != nil {
				fail(err)
			}
		}
	}
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			l := make([]time.Duration, 0, *n)
			c := clients[w]
			for i := 0; i < *n; i++ {
				t0 := time.Now()
				res, err := c.Say(context.Background(), connect.NewRequest(&elizav1.SayRequest{Sentence: "hello"}))
				if err != nil {
					fail(err)
				}
				if res.Msg.Sentence == "" {
					fail(fmt.Errorf("empty reply"))
				}
				l = append(l, time.Since(t0))
			}
			lat[w] = l
		}(w)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i].Nanoseconds()) / 1e3
	}
	fmt.Printf("calls=%d seconds=%.3f calls_per_s=%.0f p50_us=%.0f p99_us=%.0f\n",
		len(all), secs, float64(len(all))/secs, pct(0.50), pct(0.99))
}
