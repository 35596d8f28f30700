include: "report.functions.smk"
include: "reproduction.functions.smk"


localrules:
    table,
    figure,
    parity,
    gallery_images,
    gallery,
    resolved_config,
    reproduction,


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(
            paths.with_format(paths.TABLE, "csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        md=paths.with_format(paths.TABLE, "md"),
        tex=paths.with_format(paths.TABLE, "tex"),
    log:
        paths.log("table", "{table}"),
    benchmark:
        paths.benchmark("table", "{table}")
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
            paths.with_format(paths.FIGURE, "png"),
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf=paths.with_format(paths.FIGURE, "pdf"),
    log:
        paths.log("figure", "{figure}"),
    benchmark:
        paths.benchmark("figure", "{figure}")
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
        manifest=paths.MANIFEST,
    output:
        directory(paths.GALLERY_IMAGES),
    log:
        paths.log("gallery_images", "{dataset}"),
    benchmark:
        paths.benchmark("gallery_images", "{dataset}")
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
        page=paths.GALLERY,
        # The report embeds each result as one file, so it gets a copy with the thumbnails
        # inlined; the page itself links them from img/.
        standalone=report(
            paths.GALLERY_STANDALONE,
            caption="../report/gallery.rst",
            category="Gallery",
            subcategory="{dataset}",
        ),
    log:
        paths.log("gallery", "{dataset}/{task}"),
    benchmark:
        paths.benchmark("gallery", "{dataset}/{task}")
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
            paths.fill(paths.TABLE, table=paths.PARITY_TABLE, ext="csv"),
            caption="../report/parity.rst",
            category="Tables",
        ),
        md=paths.fill(paths.TABLE, table=paths.PARITY_TABLE, ext="md"),
        tex=paths.fill(paths.TABLE, table=paths.PARITY_TABLE, ext="tex"),
    log:
        paths.log("parity", "parity"),
    benchmark:
        paths.benchmark("parity", "parity")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        pairs=parity_params,
    script:
        "../scripts/parity.py"


rule resolved_config:
    output:
        report(
            paths.RESOLVED_CONFIG,
            caption="../report/config.rst",
            category="Provenance",
        ),
    log:
        paths.log("resolved_config", "resolved_config"),
    benchmark:
        paths.benchmark("resolved_config", "resolved_config")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=RESOLVED_CONFIG,
    script:
        "../scripts/resolved_config.py"


rule reproduction:
    input:
        unpack(reproduction_inputs),
    output:
        csv=report(
            paths.fill(paths.TABLE, table=REPRODUCTION, ext="csv"),
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
        md=paths.fill(paths.TABLE, table=REPRODUCTION, ext="md"),
        tex=paths.fill(paths.TABLE, table=REPRODUCTION, ext="tex"),
        png=report(
            paths.fill(paths.FIGURE, figure=REPRODUCTION, ext="png"),
            caption="../report/reproduction_figure.rst",
            category="Reproduction",
        ),
        pdf=paths.fill(paths.FIGURE, figure=REPRODUCTION, ext="pdf"),
    log:
        paths.log("reproduction", "reproduction"),
    benchmark:
        paths.benchmark("reproduction", "reproduction")
    conda:
        "../../envs/report.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        reproduction=reproduction_params,
    script:
        "../scripts/reproduction.py"
