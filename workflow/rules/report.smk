localrules:
    table,
    figure,
    parity,
    gallery_images,
    gallery,
    reproduction,


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table.rst",
            category="Tables",
        ),
        md="results/tables/{table}.md",
        tex="results/tables/{table}.tex",
    log:
        "logs/table/{table}.log",
    benchmark:
        "benchmarks/table/{table}.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        table=table_params,
    script:
        "../scripts/table.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf="results/figures/{figure}.pdf",
    log:
        "logs/figure/{figure}.log",
    benchmark:
        "benchmarks/figure/{figure}.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        figure=figure_params,
    script:
        "../scripts/figure.py"


rule gallery_images:
    input:
        manifest="resources/datasets/{dataset}/manifest.parquet",
    output:
        directory("results/gallery/{dataset}/img"),
    log:
        "logs/gallery_images/{dataset}.log",
    benchmark:
        "benchmarks/gallery_images/{dataset}.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        images=gallery_images_params,
    script:
        "../scripts/gallery_images.py"


rule gallery:
    input:
        unpack(gallery_inputs),
    output:
        page="results/gallery/{dataset}/{task}.html",
        # The report embeds each result as one file, so it gets a copy with the thumbnails
        # inlined; the page itself links them from img/.
        standalone=report(
            "results/gallery/{dataset}/{task}.standalone.html",
            caption="../report/gallery.rst",
            category="Gallery",
            subcategory="{dataset}",
        ),
    log:
        "logs/gallery/{dataset}/{task}.log",
    benchmark:
        "benchmarks/gallery/{dataset}/{task}.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        gallery=gallery_params,
    script:
        "../scripts/gallery.py"


rule parity:
    input:
        unpack(parity_inputs),
    output:
        csv=report(
            "results/tables/parity.csv",
            caption="../report/parity.rst",
            category="Tables",
        ),
        md="results/tables/parity.md",
        tex="results/tables/parity.tex",
    log:
        "logs/parity/parity.log",
    benchmark:
        "benchmarks/parity/parity.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        pairs=parity_params,
    script:
        "../scripts/parity.py"


rule reproduction:
    input:
        unpack(reproduction_inputs),
    output:
        csv=report(
            "results/tables/reproduction.csv",
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
        md="results/tables/reproduction.md",
        tex="results/tables/reproduction.tex",
        png=report(
            "results/figures/reproduction.png",
            caption="../report/reproduction_figure.rst",
            category="Reproduction",
        ),
        pdf="results/figures/reproduction.pdf",
    log:
        "logs/reproduction/reproduction.log",
    benchmark:
        "benchmarks/reproduction/reproduction.tsv"
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        reproduction=reproduction_params,
    script:
        "../scripts/reproduction.py"
