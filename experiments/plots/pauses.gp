# Pause distribution: every pause of a run, sorted, against its percentile (log scale).
load sprintf("%s/common.gp", system("dirname ".ARG0))
files = system(sprintf("ls %s/pauses-*.dat", dir))
set output sprintf("%s/pauses.png", dir)
set title "Pause distribution per run"
set xlabel "percentile of the run's pauses"
set ylabel "pause (ms)"
set logscale y
set xrange [0:100]
plot for [f in files] (has_data(f) ? f : NaN) using 2:1 with linespoints pointsize 0.6 title label_of(f)
