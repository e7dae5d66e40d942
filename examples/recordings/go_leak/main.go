// A request worker with short-lived garbage, for leakwatch recordings.
//
//	go build -o worker main.go
//	./worker -rate 200 -retain 0      # no leak
//	./worker -rate 200 -retain 100    # keeps 100 B per request, for good
//
// Each request decodes and encodes a JSON document (~30 KB of garbage) and
// keeps its response in a ring of -recent entries (replaced, so no growth).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"time"
)

type Item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

type Request struct {
	ID    int    `json:"id"`
	User  string `json:"user"`
	Items []Item `json:"items"`
}

var leaked [][]byte // the leak: grows by one slice per request, never trimmed

func handle(id int, rng *rand.Rand) []byte {
	req := Request{ID: id, User: fmt.Sprintf("u%06d", rng.Intn(1000000))}
	for i := 0; i < 120; i++ {
		req.Items = append(req.Items, Item{SKU: fmt.Sprintf("s%d", rng.Intn(5000)), Qty: rng.Intn(9) + 1, Price: rng.Float64() * 100})
	}
	body, _ := json.Marshal(req)
	var back Request
	_ = json.Unmarshal(body, &back)
	total := 0.0
	for _, it := range back.Items {
		total += float64(it.Qty) * it.Price
	}
	return []byte(fmt.Sprintf("{\"id\":%d,\"total\":%.2f,\"len\":%d}", id, total, len(body)))
}

func main() {
	rate := flag.Float64("rate", 200, "requests a second")
	retain := flag.Int("retain", 0, "bytes kept per request, for good")
	recentN := flag.Int("recent", 5000, "responses kept in a ring")
	flag.Parse()
	rng := rand.New(rand.NewSource(1))
	recent := make([][]byte, *recentN)
	t0 := time.Now()
	served := 0
	for {
		now := time.Since(t0).Seconds()
		for float64(served) < now*(*rate) {
			resp := handle(served, rng)
			recent[served%*recentN] = resp
			if *retain > 0 {
				b := make([]byte, *retain)
				rng.Read(b)
				leaked = append(leaked, b)
			}
			served++
		}
		time.Sleep(20 * time.Millisecond)
	}
}
