# Fault stalls per collection: p50 (points), p99 (line), max (dashed) for each run.
load sprintf("%s/common.gp", system("dirname ".ARG0))
files = system(sprintf("ls %s/stalls-*.dat", dir))
set output sprintf("%s/stalls.png", dir)
set title "Mutator fault stalls per collection (fault read to page installed)"
set xlabel "collection"
set ylabel "stall (us)"
set logscale y
nonempty = ""
do for [f in files] { if (has_data(f)) { nonempty = nonempty." ".f } }
if (strlen(nonempty) == 0) {
  set label 1 "no fault stall was sampled in these runs" at graph 0.5, 0.5 center
  unset logscale y
  set yrange [0:1]
  plot NaN notitle
} else {
  plot for [i=1:words(nonempty)] word(nonempty, i) using 1:2 with points pointtype 7 linecolor i title label_of(word(nonempty, i))." p50", \
       for [i=1:words(nonempty)] word(nonempty, i) using 1:3 with linespoints pointtype 5 linecolor i title label_of(word(nonempty, i))." p99", \
       for [i=1:words(nonempty)] word(nonempty, i) using 1:4 with lines dashtype 2 linecolor i title label_of(word(nonempty, i))." max"
}
