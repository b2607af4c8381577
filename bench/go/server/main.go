// eliza-go-server: the Eliza service of examples/eliza on connect-go, with
// the same replies as examples/eliza/server.c, for bench/run.sh.
//
//	eliza-go-server [port]   (0 picks a free port)
//
// It prints "listening on http://127.0.0.1:PORT" once it serves HTTP/1.1
// and h2c with prior knowledge on the same port (Go 1.24's http.Protocols;
// the microhttpd server has HTTP/1.1 only). ELIZA_INTRODUCE_COUNT=N makes
// Introduce stream N sentences instead of 3, as the C server does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"connectrpc.com/connect"

	elizav1 "connectc.bench/go/gen/elizav1"
	"connectc.bench/go/gen/elizav1/elizav1connect"
)

type eliza struct{ introduceCount int }

func replyTo(s string) string {
	switch {
	case strings.Contains(s, "hello") || strings.Contains(s, "Hello"):
		return "Hello. How are you feeling today?"
	case strings.Contains(s, "feel"):
		return "Do you often feel that way?"
	case strings.Contains(s, "because"):
		return "Is that the real reason?"
	case strings.Contains(s, "?"):
		return "Why do you ask?"
	}
	return "Please tell me more."
}

func (e *eliza) Say(_ context.Context, req *connect.Request[elizav1.SayRequest]) (*connect.Response[elizav1.SayResponse], error) {
	return connect.NewResponse(&elizav1.SayResponse{Sentence: replyTo(req.Msg.Sentence)}), nil
}

var introLines = []string{"Hi %s. I'm Eliza.", "I'm a Rogerian psychotherapist, %s.", "How are you feeling today, %s?"}

func (e *eliza) Introduce(_ context.Context, req *connect.Request[elizav1.IntroduceRequest], stream *connect.ServerStream[elizav1.IntroduceResponse]) error {
	if len(req.Msg.Name) > 100 {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("name is longer than 100 bytes"))
	}
	name := req.Msg.Name
	if name == "" {
		name = "stranger"
	}
	for i := 0; i < e.introduceCount; i++ {
		line := fmt.Sprintf(introLines[i%len(introLines)], name)
		if err := stream.Send(&elizav1.IntroduceResponse{Sentence: line}); err != nil {
			return err
		}
	}
	return nil
}

func (e *eliza) Converse(_ context.Context, stream *connect.BidiStream[elizav1.ConverseRequest, elizav1.ConverseResponse]) error {
	var reqs []*elizav1.ConverseRequest
	for {
		r, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
	}
	if len(reqs) == 1 {
		stream.ResponseTrailer().Set("x-sentences-heard", "one")
	} else {
		stream.ResponseTrailer().Set("x-sentences-heard", "several")
	}
	for _, r := range reqs {
		if err := stream.Send(&elizav1.ConverseResponse{Sentence: replyTo(r.Sentence)}); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	port := "8080"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	count := 3
	if v := os.Getenv("ELIZA_INTRODUCE_COUNT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			fmt.Fprintln(os.Stderr, "ELIZA_INTRODUCE_COUNT: expected 1 to 100000")
			os.Exit(2)
		}
		count = n
	}
	mux := http.NewServeMux()
	path, handler := elizav1connect.NewElizaServiceHandler(&eliza{introduceCount: count})
	mux.Handle(path, handler)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c by prior knowledge, no Upgrade
	srv := &http.Server{Handler: mux, Protocols: &protocols}
	fmt.Printf("listening on http://%s\n", ln.Addr().String())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("stopped")
}
