module github.com/acme/purchase-transfer

go 1.26.8
