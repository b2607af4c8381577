/*
 * connectc.h: the umbrella header. Include this, or the concern headers
 * one by one.
 */
#ifndef CONNECTC_H
#define CONNECTC_H

#include "connectc/common.h"
#include "connectc/compress.h"
#include "connectc/envelope.h"
#include "connectc/codec.h"
#include "connectc/call.h"
#include "connectc/router.h"
#include "connectc/client.h"
#include "connectc/service.h"

#endif
