// Package statuspage is rdpbroker's status page: one server-rendered HTML
// page that answers at a glance whether the broker is serving, which
// servers of which pools are up, down, draining or in maintenance with
// their sessions, how old the directory data is, how many affinity
// entries there are and whether the peers are in contact, the recent
// refusals by reason, and when the configuration was loaded. A down or
// draining server stands out (colour and a text label) and is also listed
// at the top. Everything is embedded (no CDN, no JavaScript): the page
// works offline, and refreshes itself every 5 seconds.
//
// Typical use (what `rdpbroker serve` does):
//
//	page := statuspage.New(statuspage.FromBroker(broker, statuspage.BrokerOptions{}), statuspage.Options{})
//	admin.New(cfg.Admin, admin.Options{Status: page, ...}) // served at /
//
// The page depends only on the Source interface; FromBroker adapts an
// *appliance.Broker to it.
package statuspage
