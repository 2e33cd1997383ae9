package httpapi

import (
	"net/http"

	"github.com/acme/purchase-transfer/internal/transfer"
)

// StatusOf is the HTTP status an error code is answered with, as writeError
// answers it: the documented status, or 500 for the internal S#### codes. It
// exists so that api/openapi_test.go can hold api/openapi.yaml to the code.
func StatusOf(code transfer.Code) int {
	if status, ok := httpStatusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}
