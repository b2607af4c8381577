/**
 * @file connectc/connectc.h
 * @brief The umbrella header of libconnectc: the core (connectc/core.h)
 * and the typed layer on protobuf-c (codecs, type registry, typed client
 * and handlers).
 *
 * Include this, or the concern headers one by one, and link
 * connectc::connectc (pkg-config connectc).
 */
#ifndef CONNECTC_H
#define CONNECTC_H

#include "connectc/core.h"
#include "connectc/codec.h"
#include "connectc/json_codec.h"
#include "connectc/client.h"
#include "connectc/service.h"

#endif
