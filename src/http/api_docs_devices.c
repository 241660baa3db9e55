/*
 * API reference entries (data only) for the device routes: spec/API.md §6.
 */
#include "hl/common.h"
#include "api_docs_tables.h"

static const hl_api_doc_t DOCS[] = {
    {.method = HL_METHOD_GET,
     .pattern = "/api/v1/devices",
     .tag = "Devices",
     .summary = "Paired devices (hidden ones left out)",
     .response = "{ok:boolean current_device_id:string? devices:[#DeviceListItem] summary:#DeviceSummary}"},
    {.method = HL_METHOD_PATCH,
     .pattern = "/api/v1/devices/:deviceId",
     .tag = "Devices",
     .summary = "Rename a device",
     .request = "{label:string}",
     .response = "{ok:boolean device:#DeviceListItem}",
     .errors = "400:device_label_required,device_label_invalid 404:device_not_found 409:device_revoked"},
    {.method = HL_METHOD_DELETE,
     .pattern = "/api/v1/devices/:deviceId",
     .tag = "Devices",
     .summary = "Revoke a device: its tokens stop working at once (idempotent)",
     .response = "{ok:boolean current_device_revoked:boolean device:#DeviceListItem summary:#DeviceSummary}",
     .errors = "404:device_not_found"},
    {.method = HL_METHOD_DELETE,
     .pattern = "/api/v1/devices/:deviceId/app-listing",
     .tag = "Devices",
     .summary = "Hide a revoked device from the app's list",
     .response = "{ok:boolean device:#DeviceListItem summary:#DeviceSummary}",
     .errors = "404:device_not_found 409:device_still_active"},
};

const hl_api_doc_table_t hl_api_docs_devices = {DOCS, HL_ARRAY_SIZE(DOCS)};
