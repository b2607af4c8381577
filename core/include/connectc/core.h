/**
 * @file connectc/core.h
 * @brief The umbrella header of libconnectc-core, the sans-IO protocol
 * core: it includes every core header.
 *
 * It includes no protobuf-c header: a program on another message library
 * (upb, nanopb, or none) uses this one and links connectc::core
 * (pkg-config connectc-core).
 */
#ifndef CONNECTC_CORE_H
#define CONNECTC_CORE_H

#include "connectc/export.h"
#include "connectc/version.h"
#include "connectc/common.h"
#include "connectc/compress.h"
#include "connectc/envelope.h"
#include "connectc/call.h"
#include "connectc/client_call.h"
#include "connectc/server_call.h"
#include "connectc/router.h"
#include "connectc/transport.h"

#endif
