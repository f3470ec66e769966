module github.com/rdpbroker/rdpbroker

go 1.26
