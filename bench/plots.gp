# The PNG plots of bench/run.sh's sweeps: ours (eliza_server, connectc +
# libmicrohttpd) beside connect-go and baseline_h1, and eliza_mongoose
# --connect-only (connectc on Mongoose) when nservers is 4, from the data
# files run.sh writes (their columns are listed in their header lines):
#
#   gnuplot -e "conns_dat='bench/sweep-conns.dat'; size_dat='bench/sweep-size.dat'; \
#               outdir='bench'; nservers=4; size_conns='16'; secs='3'; conns_note='none'; \
#               size_note='none'" bench/plots.gp
#
# Writes outdir/plot-conns-rps.png, plot-conns-p99.png (log x, log y) and
# plot-size-throughput.png (log x; request MB/s above, requests/s below,
# both log y). conns_note and size_note name the points where the check
# runs failed requests ("none": no failures); a point with no 2xx answer
# is left out of the log-scale plots.

if (!exists("conns_dat")) conns_dat = "bench/sweep-conns.dat"
if (!exists("size_dat")) size_dat = "bench/sweep-size.dat"
if (!exists("outdir")) outdir = "bench"
if (!exists("nservers")) nservers = 4
if (!exists("size_conns")) size_conns = "16"
if (!exists("secs")) secs = "3"
if (!exists("conns_note")) conns_note = "none"
if (!exists("size_note")) size_note = "none"

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 960,660 font "sans,11" noenhanced
} else {
  set terminal png size 960,660 noenhanced
}
set datafile missing "?"
set grid xtics ytics mytics
set key outside below center vertical Left reverse # under the x label, never over the data
set border lw 1.2

title_of(i) = i == 0 ? "ours: eliza_server (connectc + libmicrohttpd)" : \
              i == 1 ? "connect-go (net/http)" : \
              i == 2 ? "baseline_h1 (fixed response: the limit)" : \
              "ours: eliza_mongoose --connect-only (connectc + Mongoose)"
color_of(i) = i == 0 ? "#d62728" : i == 1 ? "#1f77b4" : i == 2 ? "#7f7f7f" : "#2ca02c"
point_of(i) = i == 0 ? 7 : i == 1 ? 5 : i == 2 ? 9 : 13
dash_of(i) = i == 2 ? 2 : 1
pos(x) = x > 0 ? x : NaN # log scale: leave out zero and missing points

# conns: column 1, then 6 per server: rps p50 p99 failed check_failed check_sent
crps(i) = 2 + 6 * i
cp99(i) = 4 + 6 * i
# size: columns 1-3 (bytes, label, body bytes), then 7 per server:
# rps MB/s p50 p99 failed check_failed check_sent
srps(i) = 4 + 7 * i
smbps(i) = 5 + 7 * i

failed_label(note) = note eq "none" ? "failed requests (check runs): none" : "failed requests (check runs): " . note

# ---- requests/s against connections ----
set output outdir . "/plot-conns-rps.png"
set title "Unary Say over HTTP/1.1 (7-byte proto request, h2load --h1, " . secs . " s per point): requests/s against connections\n" . failed_label(conns_note)
set xlabel "concurrent HTTP/1.1 connections (h2load -c, log scale)" offset 0,0.4
set ylabel "requests/s (2xx answers)"
set logscale x
unset logscale y
set yrange [0:*]
set xrange [*:*]
set offsets graph 0.03, graph 0.03, graph 0.05, 0
plot for [i=0:nservers-1] conns_dat using 1:(column(crps(i))):xtic(1) with linespoints \
       lw 2 dt dash_of(i) pt point_of(i) ps 1.3 lc rgb color_of(i) title title_of(i)

# ---- p99 latency against connections ----
set output outdir . "/plot-conns-p99.png"
set title "Unary Say over HTTP/1.1 (7-byte proto request, h2load --h1, " . secs . " s per point): p99 latency against connections\n" . failed_label(conns_note)
set ylabel "p99 latency of 2xx requests (microseconds, log scale)"
set logscale y
set yrange [*:*]
set offsets graph 0.03, graph 0.03, 0, 0
plot for [i=0:nservers-1] conns_dat using 1:(pos(column(cp99(i)))):xtic(1) with linespoints \
       lw 2 dt dash_of(i) pt point_of(i) ps 1.3 lc rgb color_of(i) title title_of(i)

# ---- throughput against request size ----
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 960,1000 font "sans,11" noenhanced
} else {
  set terminal png size 960,1000 noenhanced
}
set output outdir . "/plot-size-throughput.png"
set multiplot layout 2,1 title "Unary Say over HTTP/1.1 with a SayRequest of N sentence bytes (" . size_conns . " connections, h2load --h1, " . secs . " s per point)\n" . failed_label(size_note)
set title "throughput of the request bodies of 2xx answers"
set xlabel "request size: sentence bytes (log scale)" offset 0,0.4
set ylabel "request bodies MB/s (10^6 B/s, log scale)"
set logscale xy
plot for [i=0:nservers-1] size_dat using 1:(pos(column(smbps(i)))):xtic(2) with linespoints \
       lw 2 dt dash_of(i) pt point_of(i) ps 1.3 lc rgb color_of(i) title title_of(i)
set title "requests/s"
set ylabel "requests/s (2xx answers, log scale)"
plot for [i=0:nservers-1] size_dat using 1:(pos(column(srps(i)))):xtic(2) with linespoints \
       lw 2 dt dash_of(i) pt point_of(i) ps 1.3 lc rgb color_of(i) title title_of(i)
unset multiplot
