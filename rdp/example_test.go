package rdp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/rdpbroker/rdpbroker/rdp"
	"github.com/rdpbroker/rdpbroker/rdp/rdptest"
)

// The first packet of "xfreerdp /u:CORP\Alice": the cookie, normalised to
// the login the broker routes on.
func ExampleParseConnectionRequest() {
	pkt := rdp.BuildConnectionRequest(rdp.ConnRequest{
		Cookie:    `CORP\Alice`,
		HasNegReq: true, RequestedProtocols: rdp.ProtocolSSL | rdp.ProtocolHybrid,
	})
	req, err := rdp.ParseConnectionRequest(pkt)
	if err != nil {
		fmt.Println(err)
		return
	}
	login := rdp.NormalizeLogin(req.Cookie)
	fmt.Println(req.Token.Kind, req.Cookie, login.Name, login.Domain, req.RequestedProtocols)

	_, err = rdp.ParseConnectionRequest([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
	fmt.Println(errors.Is(err, rdp.ErrTLS))
	// Output:
	// mstshash CORP\Alice alice corp 3
	// true
}

func ExampleFormatMSTSToken() {
	tok := rdp.FormatMSTSToken(netip.MustParseAddrPort("172.31.249.216:3389"))
	fmt.Println(rdp.MSTSPrefix + tok)
	ap, _ := rdp.ParseMSTSToken(tok)
	fmt.Println(ap)
	// Output:
	// Cookie: msts=3640205228.15629.0000
	// 172.31.249.216:3389
}

// The accept path: read exactly the first packet with one deadline, then
// forward raw and splice the rest.
func ExampleReadConnectionRequest() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, _, _ := rdptest.Dial(ln.Addr().String(), "alice", time.Second)
		if c != nil {
			c.Close()
		}
	}()
	conn, _ := ln.Accept()
	defer conn.Close()
	raw, req, err := rdp.ReadConnectionRequest(conn, time.Now().Add(2*time.Second))
	fmt.Println(len(raw), req.Cookie, err)
	// Output: 43 alice <nil>
}

func ExampleProbe() {
	srv, _ := rdptest.Start(rdptest.Config{Name: "ts01"})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(rdp.Probe(ctx, nil, srv.Addr()))
	// Output: <nil>
}

// A UDP flow is tied to its TCP connection by the correlation id the
// client sends in both: the X.224 request and the RDP-UDP SYN.
func ExampleParseUDPSyn() {
	id := [16]byte{0x7e, 0x3d, 0x2a, 0x1c, 0x9b, 0x4f, 0x4e, 0x0a, 0x8c, 0x5d, 0x6b, 0x7a, 0x39, 0x28, 0x17, 0x06}
	req, _ := rdp.ParseConnectionRequest(rdp.BuildConnectionRequest(rdp.ConnRequest{
		Cookie: "alice", HasNegReq: true, RequestedProtocols: rdp.ProtocolHybrid, HasCorrelation: true, CorrelationID: id,
	}))
	datagram := rdp.BuildUDPSyn(rdp.UDPSyn{ReceiveWindowSize: 64, UpStreamMTU: 1232, DownStreamMTU: 1232,
		HasCorrelation: true, CorrelationID: id})
	syn, err := rdp.ParseUDPSyn(datagram)
	fmt.Println(len(datagram), err, syn.HasCorrelation && syn.CorrelationID == req.CorrelationID)

	_, err = rdp.ParseUDPSyn(datagram[:100])
	fmt.Println(errors.Is(err, rdp.ErrUDPPadding))
	// Output:
	// 1232 <nil> true
	// true
}
