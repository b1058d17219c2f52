# Heap occupancy per collection: pages in use before (dashed) and after (solid) compaction, live bytes (dots).
load sprintf("%s/common.gp", system("dirname ".ARG0))
files = system(sprintf("ls %s/occupancy-*.dat", dir))
set output sprintf("%s/occupancy.png", dir)
set title "Heap occupancy before and after each collection"
set xlabel "collection"
set ylabel "MiB"
set yrange [0:*]
nonempty = ""
do for [f in files] { if (has_data(f)) { nonempty = nonempty." ".f } }
if (strlen(nonempty) == 0) {
  set label 1 "no collection in these runs" at graph 0.5, 0.5 center
  plot NaN notitle
} else {
  plot for [i=1:words(nonempty)] word(nonempty, i) using 1:2 with linespoints dashtype 2 pointtype 6 linecolor i title label_of(word(nonempty, i))." before", \
       for [i=1:words(nonempty)] word(nonempty, i) using 1:3 with linespoints pointtype 7 linecolor i title label_of(word(nonempty, i))." after", \
       for [i=1:words(nonempty)] word(nonempty, i) using 1:4 with lines dashtype 3 linecolor i title label_of(word(nonempty, i))." live"
}
