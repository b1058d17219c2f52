# Shared settings: PNG output, one series per .dat file, titled by the file's "# label" line.
set terminal pngcairo size 1100,650 font "sans,10"
set grid
set key outside right top
label_of(f) = system("head -n1 '".f."' | sed 's/^# //'")
has_data(f) = int(system("grep -vc '^#' '".f."' || true")) > 0
